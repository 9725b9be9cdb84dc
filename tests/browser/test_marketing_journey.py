from playwright.sync_api import expect

from campaigns.models import Campaign
from leads.models import Lead
from tests import factories


def test_marketer_creates_campaign_logs_lead_and_hands_it_off(
    page, live_server, login, console, db
):
    factories.marketer(username="maud")
    factories.rep(username="ruben", first_name="Ruben", last_name="de Vries")
    login("maud")

    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Name").fill("Trade fair Utrecht")
    page.get_by_label("Channel").select_option(label="Events")
    page.get_by_label("Start date").fill("2026-09-01")
    page.get_by_label("UTM campaign code").fill("fair-utrecht")
    page.get_by_role("button", name="Save campaign").click()
    expect(page.get_by_role("heading", name="Trade fair Utrecht")).to_be_visible()
    expect(page.locator("#intake-key")).not_to_be_empty()

    page.get_by_role("link", name="Log a lead").click()
    page.get_by_label("Inquiry type").select_option(label="Event")
    expect(page.get_by_label("Campaign")).to_have_value(str(Campaign.objects.get().pk))
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("button", name="Log lead").click()
    expect(page.get_by_role("alert")).to_contain_text("Lead logged")

    page.get_by_role("button", name="Qualify (MQL)").click()
    expect(page.locator(".stage-badge").first).to_have_text("MQL")
    actions = page.locator("#marketing-actions")
    actions.get_by_label("A chosen salesperson").check()
    actions.get_by_label("Salesperson", exact=True).select_option(label="Ruben de Vries")
    actions.get_by_label("Note for sales").fill("Met at the stand, wants a demo")
    actions.get_by_role("button", name="Hand off", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Handed off to Ruben de Vries")
    expect(page.locator(".stage-badge").first).to_have_text("Handed off")
    expect(page.locator(".timeline")).to_contain_text("Handoff to Ruben de Vries")

    lead = Lead.objects.get()
    assert (lead.stage, lead.owner.username, lead.campaign.name) == (
        "handed_off",
        "ruben",
        "Trade fair Utrecht",
    )
