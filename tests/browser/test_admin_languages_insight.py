"""The deliverability and statistics pages speak the staff member's language (issue 16): a staff member who
chose German reads the Deliverability page (rates, charts with their limit line, the table of days, reports)
and takes an address off the suppression list; one who chose Italian reads a campaign's and a list's
statistics, the charts' legends and axis titles included; every page axe-clean."""

import pytest
from babel.dates import format_date, format_skeleton
from playwright.sync_api import Page, expect

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.staff.accounts import set_language
from tests.admin.test_deliverability_rates import _send_and_report
from tests.browser.conftest import assert_accessible, keyboard_login
from tests.public.recipients import click_path, news_list, open_path, sent_campaign, subscribed_contact
from tests.public.recipients import tracking_purposes as ensure_tracking_purposes

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.config(
        DNS_NAMESERVERS=["127.0.0.1:1"],
        DNS_TIMEOUT_SECONDS=0.5,
        MAILER_COMPLAINTS_ADDRESS="fbl@example.com",
        TRACKING_MACHINE_SECONDS=0,  # the opens below come right after the send
    ),
]


def _speak(page: Page, staff_user, code: str) -> None:
    """Log in (in English, the default), then choose the language as the account page does."""
    keyboard_login(page)
    set_language(staff_user, code)
    db.session.commit()


def test_deliverability_and_the_suppression_list_in_german(app, page: Page, live_server, staff_user, worker):
    _send_and_report(worker)  # 4 sent; a hard bounce, a policy refusal and a complaint
    _speak(page, staff_user, "de")
    page.goto("/admin/deliverability")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", name="Zustellbarkeit", exact=True)).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="Empfangende Server haben")).to_contain_text(
        "1 Nachricht aus Richtlinien- oder Authentifizierungsgründen abgelehnt"
    )
    readiness = page.get_by_role("region", name="Bereitschaft der Versanddomains")
    spf = readiness.get_by_role("listitem").filter(has_text="SPF").first
    expect(spf).to_contain_text("Nicht geprüft")
    expect(spf).to_contain_text("DNS nicht erreichbar: Veröffentlichen Sie diesen Eintrag.")
    expect(readiness.get_by_role("listitem").filter(has_text="From-Ausrichtung")).to_contain_text(
        "DKIM d=example.com: kein Schlüssel, nicht ausgerichtet; Envelope-Domain"
    )
    expect(page.get_by_role("region", name="DKIM-Schlüssel und Rotation")).to_be_visible()

    section = page.get_by_role("region", name="Bounce- und Beschwerderaten, letzte 30 Tage")
    bounces = section.get_by_role("img", name="Bounce-Rate pro Tag für example.com")
    expect(bounces).to_contain_text("Pause über 5 %")
    last_day = section.get_by_role("table", name="Letzte 24 Stunden: 4 Nachrichten gesendet")
    expect(last_day.get_by_role("row", name="Bounce-Rate")).to_contain_text("Innerhalb des Limits")
    expect(last_day.get_by_role("row", name="Beschwerderate")).to_contain_text("0,3 %")
    expect(section.get_by_role("img", name="Beschwerderate pro Tag für example.com")).to_contain_text(
        "Pause über 0,3 %"
    )
    table = section.get_by_role("table", name="Bounce- und Beschwerderate pro Tag für example.com")
    section.get_by_text("Dieselben Zahlen als Tabelle").click()
    today = format_date(utcnow().date(), "medium", locale="de")
    expect(table.get_by_role("row").nth(1).get_by_role("cell")).to_have_text(
        [today, "4", "1", "25,00 % über 5 %", "1", "25,00 % über 0,3 %"]
    )

    reports = page.get_by_role("table", name="Aktuelle Bounces und Beschwerden")
    expect(reports.locator("tbody tr td:nth-child(2)")).to_have_text(["Beschwerde", "Richtlinie", "hart"])
    expect(reports.locator("tbody tr td:nth-child(7)")).to_have_text(
        ["gesperrt", "Warnung an den Betreiber", "gesperrt"]
    )
    providers = page.get_by_role("table", name="Ereignis-Webhooks der Anbieter")
    expect(providers).to_contain_text("Nicht eingerichtet")
    assert_accessible(page)

    page.get_by_role("link", name="Durchsuchen Sie die Sperrliste").click()
    expect(page.get_by_role("heading", name="Sperrliste", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Alle Einträge (2)")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Vollständige E-Mail-Adresse").fill("ann@example.net")
    page.get_by_role("button", name="Suchen").click()
    result = page.get_by_role("region", name="Suchergebnis")
    expect(result).to_contain_text("Diese Adresse steht auf der Sperrliste.")
    row = result.get_by_role("row").nth(1)
    expect(row).to_contain_text("Hard Bounce")
    expect(row).to_contain_text("Eine Bounce-Meldung des empfangenden Servers oder Anbieters")
    row.get_by_text("Entfernen…").click()
    expect(row).to_contain_text("Diese Adresse wurde nach einem Hard Bounce gesperrt.")
    assert_accessible(page)
    row.get_by_label("Warum darf diese Adresse wieder angeschrieben werden?").fill(
        "Die Person hat ihr Postfach wieder eingerichtet."
    )
    row.get_by_label("Ich habe geprüft, dass diese Adresse funktioniert").check()
    row.get_by_role("button", name="Von der Sperrliste entfernen").click()

    expect(page.get_by_role("alert")).to_contain_text(
        "aufgehoben; die Aufhebung und Ihre Begründung stehen im Audit-Log."
    )
    expect(page.get_by_role("heading", name="Alle Einträge (1)")).to_be_visible()
    removals = page.get_by_role("table", name="Von der Liste genommene Adressen, neueste zuerst")
    expect(removals).to_contain_text("Hard Bounce")
    assert_accessible(page)


def _chart_words(page: Page, canvas: str) -> dict:
    """What Chart.js drew from the page: the legend's series names and the axis titles."""
    page.wait_for_function(
        "(selector) => window.Chart && Chart.getChart(document.querySelector(selector))", arg=canvas
    )
    return page.evaluate(
        """(selector) => { const chart = Chart.getChart(document.querySelector(selector));
             return { legend: chart.legend.legendItems.map((item) => item.text),
                      axes: Object.values(chart.options.scales).filter((scale) => scale.title.display)
                              .map((scale) => scale.title.text),
                      first: chart.data.labels[0] }; }""",
        canvas,
    )


def test_a_campaigns_and_a_lists_statistics_in_italian(app, page: Page, live_server, staff_user):
    news = news_list("News")
    ensure_tracking_purposes()
    ann = subscribed_contact("ann@example.com", [news], tracking=("open", "click"))
    bob = subscribed_contact("bob@example.com", [news], tracking=("open",))
    sent = sent_campaign(news, [ann, bob], sent_minutes_ago=0)
    db.session.commit()
    client = app.test_client()
    for contact in (ann, bob):
        assert client.get(open_path(app, contact, sent.campaign), headers=BROWSER).status_code == 200
    assert client.get(click_path(app, ann, sent.campaign, sent.links[0]), headers=BROWSER).status_code == 302
    _speak(page, staff_user, "it")

    page.goto("/admin/stats")
    expect(page.locator("html")).to_have_attribute("lang", "it")
    expect(page.get_by_role("heading", name="Statistiche", exact=True)).to_be_visible()
    campaigns = page.get_by_role("table").first
    expect(campaigns.get_by_role("row").nth(1).get_by_role("cell").nth(2)).to_have_text("inviata")
    assert_accessible(page)

    page.get_by_role("link", name="Spring news").click()
    expect(page.get_by_role("heading", name="Spring news", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Aperture e clic", exact=True)).to_be_visible()
    engagement = page.locator("#engagement")
    expect(engagement.get_by_role("row").nth(1).get_by_role("cell")).to_have_text(
        ["2 di 2", "100,0 %", "2", "100,0 %", "2", "0 / 0"]
    )
    expect(engagement.get_by_role("row").nth(2).get_by_role("rowheader")).to_have_text("Clic")
    expect(page.get_by_role("link", name="Per ora, primi 3 giorni")).to_have_attribute("aria-current", "page")
    hours = page.get_by_role("region", name="Dati per ora")
    expect(hours.get_by_role("columnheader")).to_have_text(
        ["Ora (UTC)", "Aperture", "Clic", "Aperture automatiche", "Clic automatici"]
    )
    drawn = _chart_words(page, "#campaign-chart")
    assert drawn["legend"] == ["Aperture", "Clic", "Aperture automatiche", "Clic automatici"]
    assert drawn["axes"] == ["per ora"]
    start = sent.campaign.started_at
    assert drawn["first"] == f"{format_skeleton('MMMd', start, locale='it')} {start:%H}:00"
    assert_accessible(page)

    page.get_by_role("navigation", name="Percorso").get_by_role("link", name="Statistiche").click()
    page.get_by_role("link", name="News", exact=True).click()
    expect(page.get_by_role("heading", name="Crescita negli ultimi 90 giorni")).to_be_visible()
    drawn = _chart_words(page, "#list-chart")
    assert drawn["legend"] == ["Iscrizioni confermate", "Disiscrizioni", "Iscritti"]
    assert drawn["axes"] == ["per giorno", "iscritti"]
    expect(page.get_by_role("heading", name="Copertura dei consensi")).to_be_visible()
    expect(page.get_by_text("Su 2 iscritti confermati, quanti hanno acconsentito")).to_be_visible()
    assert_accessible(page)
