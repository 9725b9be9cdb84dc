"""Phone layout (iPhone 12–15, 390×844): no page pans sideways, and a rep reaches a lead's
deadline and buttons without scrolling a table."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leads.models import Stage
from leads.sweep.flags import sweep_flags

PHONE = {"width": 390, "height": 844}
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def phone(page):
    page.set_viewport_size(PHONE)
    return page


@pytest.fixture
def leads(make_lead):
    awaiting = [
        make_lead(
            Stage.HANDED_OFF,
            first_name="Maximiliaan",
            last_name=f"Vanderbroeck-Oosterhuis{n}",
            company="Internationale Handelsonderneming Noord-Holland B.V.",
            phone="+31 6 12345678",
        )
        for n in range(3)
    ]
    make_lead(Stage.CONTACTED, company="Groen Media Groep")
    make_lead(Stage.OPPORTUNITY, company="Blauw Retail GmbH")
    make_lead(Stage.HANDED_OFF, owner=None, company="Rijn Techniek B.V.")
    # Flag badges carry a screen-reader-only "Open flag:", the kind of label that escaped
    # its table and widened the page.
    sweep_flags(now=timezone.now() + dt.timedelta(days=7))
    return awaiting


def test_rep_inbox_fits_a_phone_with_the_deadline_and_accept_in_view(
    phone, live_server, login, console, leads
):
    login("rep1")
    assert phone.url.endswith("/sales/")
    assert phone.evaluate(NO_OVERFLOW), phone.evaluate("document.documentElement.scrollWidth")

    row = phone.locator("#awaiting tbody tr").first
    expect(row).to_contain_text("Maximiliaan")
    for target in (
        row.get_by_role("link", name="Maximiliaan"),
        row.locator("td").nth(2).locator("time"),  # Respond within
        row.get_by_role("button", name="Accept"),
        row.locator("summary", has_text="Reject…"),
        row.locator("summary", has_text="Log contact…"),
    ):
        box = target.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]

    # An open form stays on the page too.
    row.locator("summary", has_text="Log contact…").click()
    assert phone.evaluate(NO_OVERFLOW)


def test_lead_list_fits_a_phone(phone, live_server, login, console, leads):
    login("rep1")
    phone.goto(f"{live_server.url}/leads/")
    expect(phone.locator("#lead-table")).to_contain_text("Maximiliaan")
    expect(phone.locator("#lead-table .badge-flag").first).to_be_attached()
    assert phone.evaluate(NO_OVERFLOW), phone.evaluate("document.documentElement.scrollWidth")


@pytest.mark.parametrize("language", ["en", "nl"])
def test_team_page_fits_a_phone_and_its_buttons_show_their_text(
    phone, live_server, login, console, leads, language
):
    login("manager")
    phone.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    phone.goto(f"{live_server.url}/sales/team/")
    expect(phone.locator("#team-table")).to_contain_text("rep1")
    expect(phone.locator("#queue tbody tr")).to_have_count(1)
    assert phone.evaluate(NO_OVERFLOW), phone.evaluate("document.documentElement.scrollWidth")
    # Each header button is at least as wide as its text ("Niet-toegewezen wachtrij" was cut).
    clipped = phone.evaluate(
        """() => [...document.querySelectorAll('main > div:first-child .btn')].filter(b =>
             b.scrollWidth > b.clientWidth || b.getBoundingClientRect().right > innerWidth
           ).map(b => b.textContent.trim())"""
    )
    assert clipped == []


def test_lead_list_filters_fold_behind_one_button_on_a_phone(
    phone, live_server, login, console, make_lead
):
    make_lead(Stage.NEW, last_name="Jansen")
    login("marketer")
    phone.goto(f"{live_server.url}/leads/")
    toggle = phone.get_by_role("button", name="Filters")
    expect(toggle).to_be_visible()
    expect(phone.locator("#id_campaign")).to_be_hidden()
    expect(phone.locator("#id_q")).to_be_visible()  # the search stays at hand
    toggle.click()
    expect(phone.locator("#id_campaign")).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    assert phone.evaluate(NO_OVERFLOW)

    # A filter that is set shows the filters open, with the number set on the button.
    phone.goto(f"{live_server.url}/leads/?origin=marketing&q=jansen")
    expect(phone.locator("#id_origin")).to_be_visible()
    expect(phone.get_by_role("button", name="Filters 1")).to_be_visible()


def test_lead_list_filters_stay_in_their_row_on_a_desktop(
    page, live_server, login, console, marketer
):
    page.set_viewport_size({"width": 1280, "height": 900})
    login("marketer")
    page.goto(f"{live_server.url}/leads/")
    expect(page.get_by_role("button", name="Filters")).to_be_hidden()
    search = page.locator("#id_q").bounding_box()
    stage = page.locator("#stage-label").bounding_box()
    # The first filter sits beside the search, in the same row, as before.
    assert stage["x"] > search["x"] + search["width"] and abs(stage["y"] - search["y"]) < 40
