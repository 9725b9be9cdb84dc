"""The whole handoff story in a real browser (issue 8): marketing imports and hands off,
sales accepts, wins and rejects, the sweep flags the lead nobody answered, the manager
reassigns it, rules the dispute and reads a dashboard that reflects all of it.

Every page visited is checked with axe-core (no serious or critical violations) and the
console must stay free of errors (the ``console`` fixture)."""

import datetime as dt

from django.utils import timezone
from playwright.sync_api import expect

from leads.models import Flag, Lead
from leads.sweep.flags import sweep_flags
from tests import factories

CSV = (
    "First Name;Last Name;Email;Company;Title;Lead Status\n"
    "Ada;Lovelace;ada@engines.test;Analytical Engines;CEO;MQL\n"
    "Bob;Babbage;bob@engines.test;Difference Ltd;CTO;MQL\n"
    "Cleo;Carter;cleo@engines.test;Carter Logistics;COO;MQL\n"
    "Dan;Doe;;No Contact BV;;MQL\n"
)


def test_marketing_sales_sweep_and_manager_journey(
    page, live_server, login, console, axe, db, tmp_path
):
    factories.marketer(username="maud")
    rep1 = factories.rep(username="rep1", first_name="Ruben", last_name="de Vries")
    factories.rep(username="rep2", first_name="Sanne", last_name="Bakker")
    factories.manager(username="mila")

    # --- Marketing: a campaign, a CSV import, a bulk handoff ---------------------------
    login("maud")
    axe("campaign list")
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Name").fill("Journey Fair")
    page.get_by_label("Channel").select_option(label="Events")
    page.get_by_label("Start date").fill("2026-09-01")
    page.get_by_role("button", name="Save campaign").click()
    expect(page.get_by_role("heading", name="Journey Fair")).to_be_visible()
    page.get_by_label("First day").fill("2026-09-01")
    page.get_by_label("Last day (inclusive)").fill("2026-09-30")
    page.get_by_label("Amount").fill("900")
    page.get_by_role("button", name="Record spend").click()
    expect(page.locator("#spend-entries")).to_contain_text("€900.00")
    axe("campaign page")

    page.goto(f"{live_server.url}/leads/import/")
    axe("import upload")
    csv_file = tmp_path / "fair.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    page.get_by_label("CSV or text file").set_input_files(str(csv_file))
    page.get_by_label("Campaign for rows without one").select_option(label="Journey Fair")
    page.get_by_role("button", name="Upload and map columns").click()
    expect(page.get_by_role("heading", name="Map the columns of fair.csv")).to_be_visible()
    axe("import mapping")
    page.get_by_role("button", name="Check the rows").click()
    expect(page.locator("#import-problems")).to_contain_text("no email and no phone number")
    axe("import report")
    page.get_by_label("Import the good rows and skip the 1 bad row listed below.").check()
    page.get_by_role("button", name="Import 3 rows").click()
    expect(page.locator("#import-summary")).to_contain_text("3 leads created")

    page.goto(f"{live_server.url}/leads/?sort=name")
    axe("lead list")
    for name in ("Ada Lovelace", "Bob Babbage", "Cleo Carter"):
        page.get_by_label(f"Select {name}").check()
    page.get_by_label("With selected:").select_option(label="Hand off")
    page.get_by_label("hand off to").select_option(label="the chosen rep")
    page.get_by_label("Salesperson").select_option(label="Ruben de Vries")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("alert").first).to_contain_text("3 leads updated")
    assert set(Lead.objects.values_list("owner__username", flat=True)) == {"rep1"}
    page.get_by_role("button", name="Log out").click()

    # --- Sales: accept, call and win one; reject another ----------------------------------
    ada, bob, cleo = (Lead.objects.get(last_name=n) for n in ("Lovelace", "Babbage", "Carter"))
    login("rep1")
    axe("rep inbox")
    page.locator(f"#awaiting-{ada.pk}").get_by_role("button", name="Accept").click()
    expect(page.get_by_role("alert")).to_contain_text("Accepted Ada Lovelace")
    page.goto(f"{live_server.url}/leads/{ada.pk}/")
    axe("lead page (rep)")
    card = page.locator("#sales-actions")
    card.get_by_text("Call", exact=True).click()
    card.get_by_label("Outcome").select_option(label="Connected")
    card.get_by_label("Notes").fill("Wants the enterprise plan")
    card.get_by_label("Price").check()
    tomorrow = timezone.localtime() + dt.timedelta(days=1)
    card.get_by_label("Next follow-up").fill(tomorrow.strftime("%Y-%m-%dT10:00"))
    card.get_by_role("button", name="Log contact").click()
    expect(page.locator(".timeline")).to_contain_text("Call: connected")
    card.get_by_label("Estimated value (optional)").fill("8000")
    card.get_by_role("button", name="Make opportunity").click()
    card.get_by_label("Deal value").fill("7500")
    card.get_by_role("button", name="Mark won").click()
    expect(page.locator(".stage-badge").first).to_have_text("Won")

    page.goto(f"{live_server.url}/sales/")
    row = page.locator(f"#awaiting-{bob.pk}")
    row.get_by_text("Reject…").click()
    row.get_by_label("Reason").select_option(label="Not a fit")
    row.get_by_label("Note for marketing (optional)").fill("We do not serve this region")
    row.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("alert")).to_contain_text("Rejected")
    page.get_by_role("button", name="Log out").click()

    # --- The sweep: a day and a half later nobody has answered Cleo ---------------------------
    result = sweep_flags(now=timezone.now() + dt.timedelta(hours=30))
    assert result.raised["response_overdue"] == 1
    assert Flag.objects.open().filter(lead=cleo, kind="response_overdue").exists()

    # --- Marketing disputes Bob's rejection -------------------------------------------------
    login("maud")
    page.goto(f"{live_server.url}/leads/{bob.pk}/")
    page.get_by_label("Dispute the rejection").fill("He asked for a demo twice at the fair")
    page.get_by_role("button", name="Dispute").click()
    expect(page.get_by_role("alert")).to_contain_text("Rejection disputed")
    page.get_by_role("button", name="Log out").click()

    # --- The manager: reassign the flagged lead, rule the dispute, read the dashboard --------
    login("mila")
    axe("team page")
    page.goto(f"{live_server.url}/leads/{cleo.pk}/")
    expect(page.locator("body")).to_contain_text("Response overdue")
    axe("lead page (manager)")
    card = page.locator("#sales-actions")
    card.get_by_text("Reassign", exact=True).first.click()
    card.get_by_label("Reassign to").select_option(label="Sanne Bakker")
    card.get_by_role("button", name="Reassign").click()
    expect(page.get_by_role("alert")).to_contain_text("to Sanne Bakker")
    assert Lead.objects.get(pk=cleo.pk).owner.username == "rep2"

    page.goto(f"{live_server.url}/sales/disputes/")
    axe("disputes")
    dispute = page.locator("article", has_text="He asked for a demo twice")
    dispute.get_by_label("Overturn: hand it to a rep").check()
    dispute.get_by_label("Hand the lead to (when overturned)").select_option(label="Sanne Bakker")
    dispute.get_by_role("button", name="Rule").click()
    expect(page.get_by_role("alert")).to_contain_text("overturned")
    assert Lead.objects.get(pk=bob.pk).stage == "handed_off"

    page.goto(f"{live_server.url}/dashboard/")
    axe("dashboard")

    def count(step):
        text = page.locator(f"#funnel-table tr[data-step={step}] [data-count]").inner_text()
        return int(text.replace(",", ""))

    assert count("generated") == 3
    assert count("handed_off") == 3
    assert count("accepted") == 1
    assert count("won") == 1
    expect(page.locator("#kpi-won-value [data-value]")).to_have_text("€7,500.00")
    dropped = {
        key: int(page.locator(f"#ball-dropped [data-category={key}] [data-count]").inner_text())
        for key in ("marketing", "sales", "market", "in_progress")
    }
    # Bob: rejected, never accepted since (overturned, waiting for rep2) -> marketing;
    # Cleo: a response flag was raised -> sales; Ada is won and not counted.
    assert dropped == {"marketing": 1, "sales": 1, "market": 0, "in_progress": 0}
    rep_row = page.locator("#rep-scorecard tr[data-rep=rep1]")
    expect(rep_row).to_contain_text("Ruben de Vries")
    assert rep1.handoffs_received.count() == 3
