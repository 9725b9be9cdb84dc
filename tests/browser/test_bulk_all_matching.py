"""A marketer selects every lead a filter matches, confirms, and reads the job's report."""

from playwright.sync_api import expect

from leads import services as marketing
from leads import views
from leads.bulk import services as bulk
from leads.models import Lead, Stage
from tests import factories


def test_select_all_matching_confirm_and_report(
    page, live_server, login, console, axe, db, monkeypatch
):
    monkeypatch.setattr(views, "PER_PAGE", 10)
    monkeypatch.setattr(bulk, "INLINE_MAX", 5)
    maud = factories.marketer(username="maud")
    winter = factories.CampaignFactory(name="Winter")
    leads = [
        marketing.lead_intake(
            by=maud,
            data={"last_name": f"Winter{i}", "email": f"w{i}@example.com"},
            campaign=winter,
        ).lead
        for i in range(24)
    ]
    summer = factories.CampaignFactory(name="Summer")
    marketing.lead_intake(
        by=maud, data={"last_name": "Summer", "email": "s@example.com"}, campaign=summer
    )
    login("maud")

    page.goto(f"{live_server.url}/leads/?campaign={winter.pk}&stage=new")
    offer = page.locator("#select-matching")
    expect(offer).to_be_hidden()
    page.get_by_label("Select all leads on this page").check()
    expect(offer).to_be_visible()
    expect(offer).to_contain_text("All 10 leads on this page are selected.")
    page.get_by_label("Select all 24 matching").check()
    page.get_by_label("With selected:").select_option(label="Qualify (MQL)")
    page.get_by_role("button", name="Apply").click()

    expect(page.locator("#bulk-confirm-count")).to_contain_text(
        "Qualify (MQL): all 24 leads that match these filters now."
    )
    expect(page.locator("#bulk-confirm")).to_contain_text("Stage: New · Campaign: Winter")
    axe("bulk confirmation")
    page.get_by_role("button", name="Confirm").click()

    expect(page.locator("#job-summary")).to_contain_text("24 leads moved, 0 skipped.")
    axe("bulk job report")
    assert set(Lead.objects.filter(stage=Stage.MQL).values_list("pk", flat=True)) == {
        lead.pk for lead in leads
    }


def test_the_job_pages_cards_follow_the_run_without_a_reload(page, live_server, login, db):
    from unittest.mock import patch

    from django.utils import timezone

    from leads.models import BulkJob, BulkStatus

    maud = factories.marketer(username="maud")
    winter = factories.CampaignFactory(name="Winter")
    leads = [
        marketing.lead_intake(
            by=maud, data={"last_name": f"W{i}", "email": f"w{i}@example.com"}, campaign=winter
        ).lead
        for i in range(3)
    ]
    with patch.object(bulk, "enqueue"):  # the worker is this test
        job = bulk.bulk_job_create(
            by=maud, action="qualify", params={}, lead_ids=[lead.pk for lead in leads]
        )
    running = BulkJob.objects.filter(pk=job.pk)
    running.update(status=BulkStatus.RUNNING, heartbeat_at=timezone.now())
    login("maud")
    page.goto(f"{live_server.url}{job.get_absolute_url()}")
    expect(page.locator("#job-moved")).to_have_text("0")

    running.update(moved_count=1, skipped_count=2, processed=3, heartbeat_at=timezone.now())
    expect(page.locator("#job-moved")).to_have_text("1")
    expect(page.locator('[data-card-label="moved"]')).to_have_text("lead moved")
    expect(page.locator("#job-skipped")).to_have_text("2")
    expect(page.locator('[data-card-label="skipped"]')).to_have_text("leads skipped")


def test_the_bulk_bar_shows_only_what_the_chosen_action_needs(page, live_server, login, db):
    maud = factories.marketer(username="maud")
    factories.rep(username="ruben")
    marketing.lead_intake(
        by=maud,
        data={"last_name": "Winter", "email": "w@example.com"},
        campaign=factories.CampaignFactory(name="Winter"),
    )
    login("maud")
    page.goto(f"{live_server.url}/leads/")
    action = page.get_by_label("With selected:")
    target, rep, reason = (
        page.locator("#id_bulk_mode"),
        page.locator("#id_bulk_rep"),
        page.locator("#id_bulk_reason"),
    )
    action.select_option(label="Qualify (MQL)")
    for control in (target, rep, reason):
        expect(control).to_be_hidden()
    action.select_option(label="Hand off")
    expect(target).to_be_visible()
    expect(rep).to_be_hidden()  # round-robin needs no rep
    expect(reason).to_be_hidden()
    target.select_option(label="the chosen rep")
    expect(rep).to_be_visible()
    action.select_option(label="Disqualify")
    expect(reason).to_be_visible()
    expect(target).to_be_hidden()
    expect(rep).to_be_hidden()
