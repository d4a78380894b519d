"""A marketer imports a CSV in Chromium: uploads it, maps its columns (one to a custom field found by its
label, an unknown one ignored by choice), sees the outcome and downloads the rejected rows."""

from playwright.sync_api import expect
from sqlalchemy import select

from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from tests.browser.conftest import assert_accessible, keyboard_login, shoot

CSV = (
    b"email,name,Town,Points,Notes\n"
    b"ann@example.com,Ann,Oslo,12,likes cats\n"
    b"bob@example.com,Bob,Rome,lots,none\n"
    b"not-an-address,Cat,Paris,3,\n"
)
STATEMENT = "Signed the paper form at the 2025 Berlin trade fair; the sheets are archived in the office."


def test_a_marketer_maps_the_columns_and_downloads_the_rejected_rows(
    app, page, live_server, demo_form, staff_user, worker
):
    town = field_service.define_field("town", "Town", "ordinary")
    points = field_service.define_field("points", "Points", "ordinary", value_type="number")
    db.session.commit()
    keyboard_login(page)
    page.goto("/admin/imports/new")
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "fair.csv", "mimeType": "text/csv", "buffer": CSV}]
    )
    page.get_by_label("They already consented elsewhere, and I can prove it").check()
    page.get_by_label("Where and how did they consent?").fill(STATEMENT)
    page.get_by_role("button", name="Upload and map the columns").click()

    expect(page.get_by_role("heading", name="Map the columns of fair.csv")).to_be_visible()
    expect(page.locator("#unknown-columns")).to_contain_text("Not recognised: Notes")
    expect(page.get_by_label("Town")).to_have_value("field:town")  # known by its label
    expect(page.get_by_label("Points")).to_have_value("field:points")
    expect(page.get_by_role("cell", name="likes cats")).to_be_visible()  # the first rows, as a preview
    assert_accessible(page)
    shoot(page, "import-mapping")

    page.get_by_role("button", name="Import 3 rows").click()  # Notes has no choice yet
    expect(page.get_by_role("alert")).to_contain_text("Choose a field for each column, or “Ignore”: “Notes”.")
    page.get_by_label("Notes").select_option("ignore")
    page.get_by_role("button", name="Import 3 rows").click()
    expect(page.get_by_role("heading", name="Import of fair.csv")).to_be_visible()

    worker.drain()
    page.reload()
    expect(page.get_by_text("Status: done")).to_be_visible()
    expect(page.get_by_role("row", name="a value of the wrong type (see the error report) 1")).to_be_visible()
    expect(page.get_by_text("line 3: “Points” must be a number, like 42 or 3.5.")).to_be_visible()
    assert_accessible(page)
    shoot(page, "import-done")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the rejected rows").click()
    with open(download.value.path(), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert lines == [
        "line,reason,email,name,Town,Points,Notes",
        '3,"“Points” must be a number, like 42 or 3.5.",bob@example.com,Bob,Rome,lots,none',
        "4,not a valid email address,not-an-address,Cat,Paris,3,",
    ]
    ann = db.session.execute(select(Contact).where(Contact.email == "ann@example.com")).scalar_one()
    assert field_service.read_value(ann, town) == "Oslo" and field_service.read_value(ann, points) == "12"
    assert [s.status for s in ann.subscriptions] == ["confirmed"]
