"""The HTML snippet a marketer copies from the campaign page, pasted into a page of another
site (another origin, a Windows-1252 page, UTM parameters in its address) and submitted in
a real browser: the lead arrives with its accents and its UTM attribution."""

import functools
import http.server
import threading

import pytest
from django.template.loader import render_to_string

from leads.models import Lead
from tests import factories


@pytest.fixture
def other_site(tmp_path):
    """A static web server on another port: the customer's website."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_the_copied_snippet_keeps_accents_and_utm_parameters(page, live_server, other_site):
    folder, origin = other_site
    campaign = factories.CampaignFactory(allowed_origin=origin)
    snippet = render_to_string(
        "campaigns/_intake_snippet.html",
        {"campaign": campaign, "intake_url": f"{live_server.url}/intake/{campaign.intake_key}/"},
    )
    (folder / "thank-you").mkdir()
    (folder / "thank-you" / "index.html").write_text("<!doctype html><title>Thanks</title>")
    (folder / "contact.html").write_bytes(
        (
            '<!doctype html><html><head><meta charset="windows-1252"><title>Contact</title>'
            f"</head><body>{snippet}</body></html>"
        ).encode("cp1252")
    )
    page.goto(f"{origin}/contact.html?utm_source=newsletter&utm_medium=email&utm_campaign=q4")
    page.locator("input[name=first_name]").fill("Zoë")
    page.locator("input[name=last_name]").fill("Müller-Lüdenscheidt")
    page.locator("input[name=email]").fill("zoe@example.com")
    page.locator("textarea[name=message]").fill("Graag een offerte à €500")
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{origin}/thank-you/")
    lead = Lead.objects.get()
    assert (lead.first_name, lead.last_name) == ("Zoë", "Müller-Lüdenscheidt")
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == ("newsletter", "email", "q4")
    assert lead.touches.get().message == "Graag een offerte à €500"
