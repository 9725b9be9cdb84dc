"""The rep's Today in the browser (issue 21): this morning's missed follow-up is the first
row above a long backlog; accepting in place keeps the scroll position, removes the row
and updates the counts; a refused log keeps the typed notes and says why."""

import datetime as dt

from django.utils import timezone
from playwright.sync_api import expect

from leads.models import Lead, Stage
from tests import factories


def _today(page, live_server, login):
    login("rep1")
    page.goto(live_server.url + "/sales/")


def _fill(rep, now):
    start = timezone.make_aware(dt.datetime.combine(timezone.localdate(now), dt.time.min))
    backlog = [
        factories.LeadFactory(
            stage=Stage.CONTACTED,
            owner=rep,
            last_name=f"Ancient{i}",
            next_follow_up_at=start - dt.timedelta(days=300 - i),
        )
        for i in range(40)
    ]
    # Missed this morning: between midnight and now (a minute ago at the earliest).
    missed_at = max(start, now - dt.timedelta(hours=2))
    missed = factories.LeadFactory(
        stage=Stage.CONTACTED, owner=rep, last_name="MorningMiss", next_follow_up_at=missed_at
    )
    return backlog, missed


def test_this_mornings_missed_follow_up_is_the_first_row(
    page, live_server, login, console, axe, rep
):
    now = timezone.now()
    _fill(rep, now)
    _today(page, live_server, login)
    first = page.locator("tbody tr").first
    expect(first).to_contain_text("MorningMiss")
    expect(page.locator("#missed")).to_contain_text("MorningMiss")
    expect(page.locator("#backlog tbody tr")).to_have_count(25)
    expect(page.locator("#backlog")).to_contain_text("The 25 most urgent of 40 are shown")
    axe("today")


def test_accepting_in_place_keeps_the_scroll_and_updates_the_counts(
    page, live_server, login, console, rep
):
    now = timezone.now()
    _fill(rep, now)
    leads = _awaiting(rep, now, n=3)
    page.set_viewport_size({"width": 1200, "height": 500})
    _today(page, live_server, login)
    summary = page.locator("[data-count=awaiting]")
    expect(summary).to_contain_text("3 awaiting your response")
    row = page.locator(f"#awaiting-{leads[1].pk}")
    row.scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, 50)")
    before = page.evaluate("window.scrollY")
    assert before > 0
    # No navigation happens: a marker on the window survives the action.
    page.evaluate("window.__stayed = true")
    row.get_by_role("button", name="Accept").click()
    expect(page.locator(f"#awaiting-{leads[1].pk}")).to_have_count(0)
    expect(page.locator("[data-count=awaiting]")).to_contain_text("2 awaiting your response")
    assert page.evaluate("window.__stayed") is True
    assert abs(page.evaluate("window.scrollY") - before) < 5
    leads[1].refresh_from_db()
    assert leads[1].stage == Stage.ACCEPTED


def test_a_refused_log_keeps_the_typed_notes_and_says_why(page, live_server, login, console, rep):
    now = timezone.now()
    _backlog, missed = _fill(rep, now)
    _today(page, live_server, login)
    row = page.locator(f"#missed-follow_up-{missed.pk}")
    row.get_by_text("Log contact…").click()
    notes = row.get_by_label("Notes")
    notes.fill("Spoke to them about the quote")
    # Meanwhile a manager returned the lead to the queue: this page is stale.
    Lead.objects.filter(pk=missed.pk).update(stage=Stage.HANDED_OFF, owner=None)
    page.evaluate("window.__stayed = true")
    row.get_by_role("button", name="Log contact").click()
    expect(row.get_by_role("alert")).to_contain_text("Claim this lead from the queue first.")
    expect(notes).to_have_value("Spoke to them about the quote")
    assert page.evaluate("window.__stayed") is True
    # The refusal is the expected 409, which Chromium logs as a failed resource.
    console[:] = [m for m in console if "status of 409" not in m]


def _awaiting(rep, now, n=2):
    return [
        factories.LeadFactory(
            stage=Stage.HANDED_OFF,
            owner=rep,
            last_name=f"Waiting{i}",
            last_handed_off_at=now - dt.timedelta(hours=1),
            response_due_at=now + dt.timedelta(hours=i + 1),
        )
        for i in range(n)
    ]


def test_typing_in_one_row_survives_acting_on_another(page, live_server, login, console, rep):
    now = timezone.now()
    backlog, _missed = _fill(rep, now)
    waiting = _awaiting(rep, now)
    _today(page, live_server, login)
    # The row's log form is not in the page until opened: it is copied from the page's
    # one <template>, for this row's lead.
    row = page.locator(f"#backlog-follow_up-{backlog[0].pk}")
    expect(row.locator("form")).to_have_count(0)
    row.get_by_text("Log contact…").click()
    notes = row.get_by_label("Notes")
    notes.fill("Half-typed call notes")
    page.locator(f"#awaiting-{waiting[0].pk}").get_by_role("button", name="Accept").click()
    expect(page.locator(f"#awaiting-{waiting[0].pk}")).to_have_count(0)
    expect(page.locator("[data-count=awaiting]")).to_contain_text("1 awaiting your response")
    # The other row's open form kept what was typed, and posts for its own lead.
    row = page.locator(f"#backlog-follow_up-{backlog[0].pk}")
    expect(row.get_by_label("Notes")).to_have_value("Half-typed call notes")
    row.get_by_role("button", name="Log contact").click()
    expect(page.locator(f"#backlog-follow_up-{backlog[0].pk}")).to_have_count(0)
    assert backlog[0].activities.get().notes == "Half-typed call notes"


def test_after_acting_in_place_focus_is_on_the_next_row(page, live_server, login, console, rep):
    now = timezone.now()
    waiting = _awaiting(rep, now, n=3)
    _today(page, live_server, login)
    page.locator(f"#awaiting-{waiting[0].pk}").get_by_role("button", name="Accept").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#awaiting-{waiting[0].pk}")).to_have_count(0)
    focused_row = page.evaluate(
        "document.activeElement.closest('tr') && document.activeElement.closest('tr').id"
    )
    assert focused_row == f"awaiting-{waiting[1].pk}"


def test_back_from_a_call_on_today_the_row_offers_to_log_it(
    page, live_server, login, console, rep
):
    now = timezone.now()
    lead = factories.LeadFactory(
        stage=Stage.CONTACTED,
        owner=rep,
        first_name="Ada",
        last_name="Caller",
        phone="+31 20 123 4567",
        # Missed this morning, whatever the hour the test runs at.
        next_follow_up_at=max(
            timezone.make_aware(dt.datetime.combine(timezone.localdate(now), dt.time.min)),
            now - dt.timedelta(hours=1),
        ),
        created_at=now - dt.timedelta(days=2),
        last_handed_off_at=now - dt.timedelta(days=2),
    )
    _today(page, live_server, login)
    prompt = page.locator("#today-call-prompt")
    expect(prompt).to_be_hidden()
    # The dialler is not part of the test: the tap is recorded, the navigation dropped.
    page.evaluate(
        "document.addEventListener('click', e => {"
        " if (e.target.closest('a[href^=\"tel:\"]')) e.preventDefault(); })"
    )
    row = page.locator(f"#missed-follow_up-{lead.pk}")
    row.locator('a[href^="tel:"]').click()
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(prompt).to_be_visible()
    expect(prompt).to_contain_text("You called Ada Caller.")
    prompt.get_by_role("button", name="Log that call").click()
    expect(prompt).to_be_hidden()
    form = row.locator("form.log-contact")
    expect(form.locator('input[name="kind"][value="call"]')).to_be_checked()
    expect(form.locator('input[name="occurred_at"]')).not_to_have_value("")
    expect(form.get_by_label("Notes")).to_be_focused()
    form.get_by_label("Notes").fill("Called about the quote")
    form.get_by_role("button", name="Log contact").click()
    expect(page.locator("#today-toasts")).to_contain_text("Contact logged")
    assert lead.activities.get(notes="Called about the quote").kind == "call"
