"""Every sign-up form links to the published privacy notice (Art. 13 information at collection)."""

import re


def test_hosted_form_and_snippet_link_to_the_privacy_notice(app, auth, demo_form):
    page = auth.get("/f/demo")
    [href] = re.findall(r'href="([^"]+)"[^>]*>Privacy notice<', page.text)
    notice = auth.get(href)
    assert notice.status_code == 200
    form_page = auth.get(f"/admin/forms/{demo_form.public_id}")
    snippet_link = app.config["MAILER_BASE_URL"] + "/privacy"
    assert f'href="{snippet_link}"' in form_page.text.replace("&#34;", '"').replace("&quot;", '"')
