"""The pipeline board in a browser: the move menu offers only the lifecycle's moves; a
forbidden move (accepted -> opportunity, opportunity -> accepted) dragged anyway is refused
with the service's reason and the card stays; an allowed one (drag and drop) moves it and
says so."""

import datetime as dt

from django.db.models import F
from playwright.sync_api import expect

from leads.models import Lead, Stage


def _column(page, stage):
    return page.locator(f'.board-column[data-stage="{stage}"]')


def _drag(page, card, stage):
    # Picked up by its corner: its middle is the move menu, which a press would open.
    card.drag_to(_column(page, stage), source_position={"x": 3, "y": 3})


def test_the_board_refuses_a_forbidden_move_and_the_card_stays(
    page, live_server, login, console, axe, make_lead
):
    accepted = make_lead(Stage.ACCEPTED, first_name="Grace", last_name="Hopper")
    contacted = make_lead(Stage.CONTACTED, first_name="Alan", last_name="Turing")
    opportunity = make_lead(Stage.OPPORTUNITY, first_name="Ada", last_name="Lovelace")

    login("rep1")
    page.goto(f"{live_server.url}/sales/board/")
    axe("pipeline board")
    card = page.locator(f"#card-{accepted.pk}")
    expect(_column(page, "accepted").locator(f"#card-{accepted.pk}")).to_have_count(1)

    # The move menu offers what the lifecycle allows from the card's stage, under a blank
    # default: from accepted only contacted (the log form); an opportunity has no menu.
    menu = card.get_by_label("Move to")
    expect(menu).to_have_value("")
    expect(menu.locator("option")).to_have_text(["Move to…", "Contacted"])
    expect(page.locator(f"#card-{contacted.pk}").locator("option")).to_have_text(
        ["Move to…", "Opportunity"]
    )
    expect(page.locator(f"#card-{opportunity.pk}").get_by_label("Move to")).to_have_count(0)

    # Dragging it to opportunity posts the move anyway: refused with the service's reason,
    # shown on the card, which stays.
    refusal = card.locator(".board-refusal")
    _drag(page, card, "opportunity")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("Cannot make an opportunity of this lead")
    expect(_column(page, "accepted").locator(f"#card-{accepted.pk}")).to_have_count(1)
    expect(_column(page, "opportunity").locator(f"#card-{accepted.pk}")).to_have_count(0)
    assert Lead.objects.get(pk=accepted.pk).stage == Stage.ACCEPTED

    # An opportunity dragged back to accepted: the refusal says so, not "already accepted".
    back = page.locator(f"#card-{opportunity.pk}")
    _drag(page, back, "accepted")
    expect(back.locator(".board-refusal")).to_have_text(
        "A lead cannot go from Opportunity to Accepted."
    )
    assert Lead.objects.get(pk=opportunity.pk).stage == Stage.OPPORTUNITY

    # An allowed move by drag and drop: the contacted lead becomes an opportunity, and the
    # reloaded board says so.
    _drag(page, page.locator(f"#card-{contacted.pk}"), "opportunity")
    expect(page.get_by_role("alert").filter(has_text="is now an opportunity")).to_have_count(1)
    expect(_column(page, "opportunity").locator(f"#card-{contacted.pk}")).to_have_count(1)
    page.wait_for_load_state("networkidle")
    assert Lead.objects.get(pk=contacted.pk).stage == Stage.OPPORTUNITY

    # The two refusals are 409 answers, which the browser logs; nothing else may be.
    refused = [m for m in console if "409" in m]
    assert len(refused) == 2, console
    for message in refused:
        console.remove(message)


def test_back_from_a_phone_call_the_page_offers_to_log_it_prefilled(
    page, live_server, login, console, make_lead
):
    lead = make_lead(Stage.CONTACTED, first_name="Ada", phone="+31 20 123 4567")
    # Created and handed off a while ago: the prefilled time is to the minute, and a call
    # cannot be before the lead reached sales.
    earlier = {f: F(f) - dt.timedelta(minutes=10) for f in ("created_at", "last_handed_off_at")}
    Lead.objects.filter(pk=lead.pk).update(**earlier)
    login("rep1")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    prompt = page.locator("#call-prompt")
    expect(prompt).to_be_hidden()
    # The dialler is not part of the test: the tap is recorded, the navigation dropped.
    page.evaluate(
        "document.addEventListener('click', e => {"
        " if (e.target.closest('a[href^=\"tel:\"]')) e.preventDefault(); })"
    )
    page.locator('a[href^="tel:"]').first.click()
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(prompt).to_be_visible()
    prompt.get_by_role("button", name="Log that call").click()
    expect(prompt).to_be_hidden()
    form = page.locator("#sales-actions form.log-contact")
    expect(form.locator('input[name="kind"][value="call"]')).to_be_checked()
    expect(form.locator('input[name="occurred_at"]')).not_to_have_value("")
    form.get_by_label("Notes").fill("Called back about the quote")
    form.get_by_role("button", name="Log contact").click()
    expect(page.get_by_role("alert")).to_contain_text("Contact logged")
    assert lead.activities.get(notes="Called back about the quote").kind == "call"
