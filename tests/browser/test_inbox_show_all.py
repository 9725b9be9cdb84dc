"""The inbox at any size in the browser (issue 20 item 4): a section shows its 25 most
urgent, and its "show all" link opens the lead list with exactly that section; a saved
view of that list comes back from the pill row."""

import datetime as dt

from django.utils import timezone
from playwright.sync_api import expect

from leads.models import Lead, Stage
from tests import factories


def test_show_all_opens_the_lead_list_with_the_whole_section_and_saves_as_a_view(
    page, live_server, login, console, axe, rep, other_rep
):
    now = timezone.now()
    due = [factories.LeadFactory(stage=Stage.CONTACTED, owner=rep) for _ in range(30)]
    for i, lead in enumerate(due):
        lead.next_follow_up_at = now - dt.timedelta(days=30) + i * dt.timedelta(hours=1)
    Lead.objects.bulk_update(due, ["next_follow_up_at"])
    factories.LeadFactory(stage=Stage.CONTACTED, owner=other_rep, next_follow_up_at=now)
    factories.LeadFactory(stage=Stage.ACCEPTED, owner=rep, last_name="Idle")

    login("rep1")
    page.goto(live_server.url + "/sales/")
    section = page.locator("#backlog")
    expect(section.locator("tbody tr")).to_have_count(25)
    expect(section).to_contain_text("The 25 most urgent of 30 are shown")
    axe("inbox")
    section.get_by_role("link", name="Show all 30 in the lead list").click()
    expect(page.locator("#lead-count")).to_contain_text("30 leads")
    expect(page.locator("#lead-table tbody tr")).to_have_count(30)
    expect(page.locator("#lead-table")).not_to_contain_text("Idle")
    expect(page.locator("#id_section")).to_have_value("follow_up_due")

    page.get_by_text("Save these filters…").click()
    page.get_by_label("Name", exact=True).fill("My backlog")
    page.get_by_role("button", name="Save view").click()
    expect(page.get_by_role("alert")).to_contain_text("View saved: My backlog.")
    page.goto(live_server.url + "/leads/")
    page.locator("#saved-views").get_by_role("link", name="My backlog").click()
    expect(page.locator("#lead-count")).to_contain_text("30 leads")
    axe("lead list with a saved view")
