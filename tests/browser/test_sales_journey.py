import datetime as dt

from django.utils import timezone
from playwright.sync_api import expect

from leads.models import Lead, Stage


def test_rep_accepts_calls_and_wins_a_lead_then_marketing_sees_it_won(
    page, live_server, login, console, make_lead, campaign
):
    lead = make_lead(Stage.HANDED_OFF, first_name="Grace", last_name="Hopper", company="Navy")
    other = make_lead(Stage.MQL, first_name="Alan", last_name="Turing")

    login("rep1")
    assert page.url.endswith("/sales/")
    row = page.locator(f"#awaiting-{lead.pk}")
    expect(row).to_contain_text("Grace Hopper")
    expect(row).to_contain_text("left")
    row.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("alert")).to_contain_text("Accepted Grace Hopper (Navy).")
    expect(page.locator(f"#awaiting-{lead.pk}")).to_have_count(0)

    # Accepted with nothing due: not in Today (no "in progress" section), on its page.
    page.goto(f"{live_server.url}{lead.get_absolute_url()}")
    card = page.locator("#sales-actions")
    card.get_by_text("Call", exact=True).click()
    card.get_by_label("Outcome").select_option(label="Connected")
    card.get_by_label("Notes").fill("Interested in the annual plan")
    card.get_by_label("Price").check()
    tomorrow = timezone.localtime() + dt.timedelta(days=1)
    card.get_by_label("Next follow-up").fill(tomorrow.strftime("%Y-%m-%dT10:00"))
    card.get_by_role("button", name="Log contact").click()
    expect(page.get_by_role("alert")).to_contain_text("Contact logged on Grace Hopper")
    expect(page.locator(".timeline")).to_contain_text("Call: connected")
    expect(page.locator(".timeline")).to_contain_text("Interested in the annual plan")

    card.get_by_label("Estimated value (optional)").fill("5000")
    card.get_by_role("button", name="Make opportunity").click()
    expect(page.get_by_role("alert")).to_contain_text("is now an opportunity")

    card.get_by_label("Deal value").fill("7500")
    card.get_by_role("button", name="Mark won").click()
    expect(page.get_by_role("alert")).to_contain_text("Won: Grace Hopper (Navy).")
    expect(page.locator(".stage-badge").first).to_have_text("Won")

    page.get_by_role("button", name="Log out").click()
    login("marketer")
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    won_row = page.locator("#campaign-leads tr", has_text="Grace Hopper")
    expect(won_row.locator(".stage-badge")).to_have_text("Won")
    expect(page.locator("#campaign-leads tr", has_text="Alan Turing")).to_contain_text("MQL")
    expect(page.locator("#campaign-funnel tr[data-step=won] td").first).to_have_text("1")

    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.stage, str(lead.deal_value), lead.owner.username) == ("won", "7500.00", "rep1")
    assert lead.first_contact_at is not None and lead.activities.get().objection_tags == ["price"]
    assert other.pk != lead.pk
    assert page.url.endswith(f"/campaigns/{campaign.pk}/")
