"""The team in the browser (issue 18, item 7): a manager invites a rep, who sets a password
and sees their inbox, and gets leads; the manager deactivates a rep, whose open leads move
in the same step and who can no longer log in."""

import re
from urllib.parse import urlsplit

from playwright.sync_api import expect

from leadflow.models import Profile
from leads import services as marketing
from leads.models import Lead, Stage

PASSWORD = "a-Long-enough-passw0rd"


def test_manager_invites_a_rep_who_sets_a_password_and_gets_leads(
    page, live_server, login, console, axe, manager, marketer, rep, mailoutbox, make_lead
):
    login("manager")
    page.locator("#nav-manage").click()  # the managers' settings menu
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_role("link", name="Invite a user").click()
    page.get_by_label("E-mail").fill("sanne@example.com")
    page.get_by_label("Role").select_option(label="Sales")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("alert")).to_contain_text("Invitation sent to sanne@example.com")
    expect(page.locator("#invitation-table")).to_contain_text("sanne@example.com")
    axe("users")
    page.get_by_role("button", name="Log out").click()

    (mail,) = mailoutbox
    assert mail.to == ["sanne@example.com"]
    link = re.search(r"https?://\S+/accounts/invitation/\S+/", mail.body).group(0)
    page.goto(live_server.url + urlsplit(link).path)
    expect(page.get_by_role("heading", name="Join LeadFlow")).to_be_visible()
    axe("invitation")
    page.get_by_label("Username").fill("sanne")
    page.get_by_label("First name").fill("Sanne")
    page.get_by_label("Last name").fill("Bakker")
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("alert")).to_contain_text("Welcome to LeadFlow, sanne.")
    assert page.url.endswith("/sales/")

    # A rep from now on: round-robin hands them a lead (rep1 is on leave), which their
    # inbox shows.
    lead = make_lead(Stage.MQL, first_name="Grace", last_name="Hopper")
    Profile.objects.update_or_create(user=rep, defaults={"is_available": False})
    handoff = marketing.lead_hand_off(lead=lead, by=marketer, round_robin=True)
    assert handoff.to_user.username == "sanne"
    page.reload()
    expect(page.locator(f"#awaiting-{lead.pk}")).to_contain_text("Grace Hopper")


def test_manager_deactivates_a_rep_whose_leads_move_and_who_cannot_log_in(
    page, live_server, login, console, axe, manager, rep, other_rep, make_lead
):
    leads = [make_lead(stage) for stage in (Stage.HANDED_OFF, Stage.ACCEPTED, Stage.WON)]
    login("manager")
    page.locator("#nav-manage").click()  # the managers' settings menu
    page.get_by_role("link", name="Users", exact=True).click()
    page.locator("#user-table").get_by_role("link", name=rep.get_full_name()).click()
    axe("user page")
    card = page.locator("section", has=page.get_by_role("heading", name="Deactivate"))
    card.get_by_label("to one rep I choose").check()
    card.get_by_label("Rep", exact=True).select_option(label=other_rep.get_full_name())
    card.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_role("alert")).to_contain_text("rep1 is deactivated")
    expect(page.get_by_role("alert")).to_contain_text("2 leads to rep2")
    expect(page.get_by_role("button", name="Reactivate")).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("rep1")
    page.get_by_label("Password").fill("pw-Secret-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("main form")).to_contain_text(
        "Please enter a correct username and password"
    )
    assert "/accounts/login/" in page.url

    owners = [Lead.objects.get(pk=lead.pk).owner.username for lead in leads]
    assert owners == ["rep2", "rep2", "rep1"]
