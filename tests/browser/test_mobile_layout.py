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


LAPTOP = {"width": 1366, "height": 768}


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_managers_menu_bar_fits_a_1366_px_laptop_screen(
    page, live_server, login, console, manager, language
):
    """Every manager page was 1418 px wide at 1366 ("My leads" wrapped, "Log out" was off
    the screen): the settings pages sit in one Manage menu now."""
    manager.is_staff = True  # the Admin link too, the widest bar there is
    manager.save(update_fields=["is_staff"])
    page.set_viewport_size(LAPTOP)
    login("manager")
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    for path in ("/sales/", "/leads/", "/dashboard/", "/sales/users/"):
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth <= 1366"), (
            path,
            page.evaluate("document.documentElement.scrollWidth"),
        )
        brand = page.locator(".navbar-brand").bounding_box()
        for item in page.locator("#nav > ul > li").all():
            box = item.bounding_box()
            # One row: every item on the brand's line, and within the screen.
            assert abs(box["y"] - brand["y"]) < 20 and box["x"] + box["width"] <= 1366, path
            assert box["height"] < 50, (path, item.inner_text())
    # The settings pages are one menu away, and the page is shown as active there.
    page.locator("#nav-manage").click()
    users = page.locator("#nav .dropdown-menu a.dropdown-item.active")
    expect(users).to_have_attribute("href", "/sales/users/")
    page.locator("#nav .dropdown-menu").get_by_role(
        "link", name="Jobs" if language == "en" else "Taken"
    ).click()
    expect(page).to_have_url(f"{live_server.url}/leads/jobs/")


def test_the_managers_menu_folds_behind_the_toggle_on_a_phone(
    phone, live_server, login, console, manager
):
    login("manager")
    phone.goto(f"{live_server.url}/sales/team/")
    assert phone.evaluate(NO_OVERFLOW)
    phone.get_by_role("button", name="Toggle navigation").click()
    phone.locator("#nav-manage").click()
    expect(phone.locator("#nav .dropdown-menu").get_by_role("link", name="Users")).to_be_visible()
    assert phone.evaluate(NO_OVERFLOW)
