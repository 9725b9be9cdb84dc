"""The team in the app, for managers (issue 18, item 7): a user's role, deactivation with
their open leads reassigned in the same step, reactivation, and who may do it."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from leadflow import roles
from leadflow.errors import ActionForbidden, InvalidInput, TransitionNotAllowed
from leadflow.models import Profile
from leadflow.services import invitation_create
from leads.models import Flag, FlagKind, Lead, Stage
from leads.services import next_round_robin_rep, validate_rep
from sales import services
from sales.models import Handoff, HandoffKind, HandoffOutcome
from sales.services import REASSIGN_QUEUE, REASSIGN_REP, REASSIGN_ROUND_ROBIN
from tests import factories

User = get_user_model()
OPEN = (Stage.HANDED_OFF, Stage.ACCEPTED, Stage.CONTACTED, Stage.OPPORTUNITY)


@pytest.fixture
def book(make_lead, rep):
    """One lead of ``rep`` at each open sales stage, and a won and a lost one."""
    leads = {stage: make_lead(stage) for stage in (*OPEN, Stage.WON, Stage.LOST)}
    return leads


def owners(leads):
    return {stage: Lead.objects.get(pk=lead.pk).owner for stage, lead in leads.items()}


def test_deactivating_a_rep_moves_their_open_leads_to_the_chosen_rep(
    manager, rep, other_rep, book
):
    now = timezone.now()
    flag = Flag.objects.create(
        lead=book[Stage.ACCEPTED],
        kind=FlagKind.STALLED,
        side="sales",
        responsible=rep,
        raised_at=now,
    )
    result = services.user_deactivate(
        user=rep, by=manager, reassign=REASSIGN_REP, to_user=other_rep
    )
    assert result.moved == 4 and result.to_reps == {other_rep: 4} and result.to_queue == 0
    after = owners(book)
    assert all(after[stage] == other_rep for stage in OPEN)
    # Closed leads keep their record: the rep who won or lost them.
    assert after[Stage.WON] == rep and after[Stage.LOST] == rep
    for stage in OPEN:
        lead = Lead.objects.get(pk=book[stage].pk)
        assert lead.stage == stage
        last = Handoff.objects.filter(lead=lead).latest("handed_at", "id")
        assert (last.kind, last.from_user, last.to_user) == (
            HandoffKind.REASSIGN,
            manager,
            other_rep,
        )
        assert "deactivated" in last.note
    # As a reassignment does: the departing rep's open flag closes as their breach.
    flag.refresh_from_db()
    assert flag.resolved_at is not None and flag.closed_as_breach
    rep.refresh_from_db()
    assert not rep.is_active
    assert authenticate(username="rep1", password="pw-Secret-123") is None


def test_deactivation_by_round_robin_skips_the_departing_and_unavailable_reps(
    manager, rep, other_rep, third_rep, book
):
    Profile.objects.update_or_create(user=third_rep, defaults={"is_available": False})
    result = services.user_deactivate(user=rep, by=manager, reassign=REASSIGN_ROUND_ROBIN)
    assert result.to_reps == {other_rep: 4}
    assert {owner for stage, owner in owners(book).items() if stage in OPEN} == {other_rep}


def test_deactivation_by_round_robin_shares_the_leads(manager, rep, other_rep, third_rep, book):
    result = services.user_deactivate(user=rep, by=manager, reassign=REASSIGN_ROUND_ROBIN)
    assert result.to_reps == {other_rep: 2, third_rep: 2}


def test_deactivation_to_the_queue_queues_unanswered_leads_and_shares_accepted_ones(
    manager, rep, other_rep, book
):
    result = services.user_deactivate(user=rep, by=manager, reassign=REASSIGN_QUEUE)
    assert result.to_queue == 1 and result.to_reps == {other_rep: 3}
    queued = Lead.objects.get(pk=book[Stage.HANDED_OFF].pk)
    assert queued.in_unassigned_queue
    assert Lead.objects.unassigned_queue().filter(pk=queued.pk).exists()
    handoffs = list(Handoff.objects.filter(lead=queued).order_by("handed_at", "id"))
    assert handoffs[-2].outcome == HandoffOutcome.SUPERSEDED
    assert handoffs[-1].to_user is None and handoffs[-1].kind == HandoffKind.REASSIGN
    assert queued.last_handed_off_at == handoffs[-1].handed_at
    # Any rep may claim it from the queue now.
    services.lead_claim(lead=queued, by=other_rep)


def test_nothing_changes_when_a_lead_cannot_be_placed(manager, rep, book):
    with pytest.raises(InvalidInput, match="available"):
        services.user_deactivate(user=rep, by=manager, reassign=REASSIGN_ROUND_ROBIN)
    rep.refresh_from_db()
    assert rep.is_active
    assert all(owner == rep for owner in owners(book).values())


def test_the_chosen_rep_must_be_an_active_other_rep(manager, rep, other_rep, marketer, book):
    for to_user in (None, rep, marketer):
        with pytest.raises(InvalidInput):
            services.user_deactivate(user=rep, by=manager, reassign=REASSIGN_REP, to_user=to_user)
    with pytest.raises(InvalidInput):
        services.user_deactivate(user=rep, by=manager, reassign="by_magic")
    rep.refresh_from_db()
    assert rep.is_active


def test_deactivated_reps_get_no_leads_from_round_robin_or_pickers(manager, rep, other_rep):
    services.user_deactivate(user=other_rep, by=manager, reassign=REASSIGN_ROUND_ROBIN)
    assert other_rep not in roles.active_reps()
    assert all(next_round_robin_rep(timezone.now()) == rep for _ in range(3))
    with pytest.raises(InvalidInput):
        validate_rep(User.objects.get(pk=other_rep.pk))


def test_deactivated_user_cannot_log_in_and_their_session_ends(manager, rep, other_rep):
    client = Client()
    client.force_login(rep)
    assert client.get(reverse("sales:inbox")).status_code == 200
    services.user_deactivate(user=rep, by=manager, reassign=REASSIGN_REP, to_user=other_rep)
    assert client.get(reverse("sales:inbox")).status_code == 302
    response = Client().post(reverse("login"), {"username": "rep1", "password": "pw-Secret-123"})
    assert response.status_code == 200 and not response.wsgi_request.user.is_authenticated


def test_reactivated_user_logs_in_again_with_their_role(manager, rep, other_rep):
    services.user_deactivate(user=rep, by=manager, reassign=REASSIGN_REP, to_user=other_rep)
    with pytest.raises(TransitionNotAllowed, match="already deactivated"):
        services.user_deactivate(user=rep, by=manager, reassign=REASSIGN_REP, to_user=other_rep)
    services.user_reactivate(user=rep, by=manager)
    user = authenticate(username="rep1", password="pw-Secret-123")
    assert user == rep and roles.is_rep(user)
    assert rep in roles.active_reps()
    with pytest.raises(TransitionNotAllowed, match="active already"):
        services.user_reactivate(user=rep, by=manager)


def test_a_manager_cannot_deactivate_themselves(manager):
    with pytest.raises(ActionForbidden, match="yourself"):
        services.user_deactivate(user=manager, by=manager, reassign=REASSIGN_ROUND_ROBIN)
    manager.refresh_from_db()
    assert manager.is_active


def test_two_managers_removing_each_other_leave_one_manager(manager):
    """The acting manager always counts as another manager, so the last one can only be
    lost to two managers acting at once: the second one's request (read before the first
    committed) is refused after the lock. test_team_races.py races it for real."""
    second = factories.manager(username="boss2")
    seconds_request = User.objects.get(pk=second.pk)
    services.user_deactivate(user=second, by=manager, reassign=REASSIGN_ROUND_ROBIN)
    with pytest.raises(TransitionNotAllowed, match="last manager"):
        services.user_deactivate(user=manager, by=seconds_request, reassign=REASSIGN_ROUND_ROBIN)
    with pytest.raises(TransitionNotAllowed, match="last manager"):
        services.user_set_role(user=manager, by=seconds_request, role="sales")
    manager.refresh_from_db()
    assert manager.is_active and roles.is_manager(User.objects.get(pk=manager.pk))


def test_a_superuser_counts_as_another_manager(manager):
    admin = factories.UserFactory(username="root", is_superuser=True)
    services.user_set_role(user=manager, by=admin, role="sales")
    assert not roles.is_manager(User.objects.get(pk=manager.pk))


def test_only_managers_run_the_team(marketer, rep, other_rep, manager):
    for actor in (marketer, rep):
        with pytest.raises(ActionForbidden):
            services.user_deactivate(user=other_rep, by=actor, reassign=REASSIGN_ROUND_ROBIN)
        with pytest.raises(ActionForbidden):
            services.user_set_role(user=other_rep, by=actor, role="manager")
        with pytest.raises(ActionForbidden):
            services.user_reactivate(user=other_rep, by=actor)
    other_rep.refresh_from_db()
    assert other_rep.is_active and not roles.is_manager(other_rep)


def test_role_change_gives_exactly_one_role(manager, marketer):
    services.user_set_role(user=marketer, by=manager, role="sales")
    user = User.objects.get(pk=marketer.pk)
    assert roles.is_rep(user) and not roles.is_marketer(user)
    assert user in roles.active_reps()
    services.user_set_role(user=user, by=manager, role="manager")
    user = User.objects.get(pk=marketer.pk)
    assert roles.role_names(user) == {roles.MANAGERS}


def test_role_change_refusals(manager, rep, make_lead):
    make_lead(Stage.ACCEPTED)
    with pytest.raises(TransitionNotAllowed, match="holds 1 open lead"):
        services.user_set_role(user=rep, by=manager, role="marketing")
    with pytest.raises(ActionForbidden, match="your own role"):
        services.user_set_role(user=manager, by=manager, role="sales")
    with pytest.raises(InvalidInput):
        services.user_set_role(user=rep, by=manager, role="superuser")
    assert roles.is_rep(User.objects.get(pk=rep.pk))


def test_return_to_queue_refuses_an_accepted_lead(manager, make_lead):
    lead = make_lead(Stage.ACCEPTED)
    with pytest.raises(TransitionNotAllowed, match="reassign it"):
        services.lead_return_to_queue(lead=lead, by=manager)


# --- pages -------------------------------------------------------------------------------

USERS = reverse("sales:users")


def test_reps_and_marketers_get_403_on_every_user_page(
    rep_client, marketer_client, other_rep, manager
):
    invitation = invitation_create(by=manager, email="x@example.com", role="sales")
    gets = [USERS, reverse("sales:user_invite"), reverse("sales:user_detail", args=[other_rep.pk])]
    posts = [
        reverse("sales:user_invite"),
        *(
            reverse(f"sales:user_{action}", args=[other_rep.pk])
            for action in ("role", "deactivate", "reactivate")
        ),
        reverse("sales:invitation_resend", args=[invitation.pk]),
        reverse("sales:invitation_revoke", args=[invitation.pk]),
    ]
    for client in (rep_client, marketer_client):
        assert [client.get(url).status_code for url in gets] == [403] * len(gets)
        responses = [
            client.post(url, {"role": "manager", "reassign": "round_robin"}) for url in posts
        ]
        assert [r.status_code for r in responses] == [403] * len(posts)
    other_rep.refresh_from_db()
    assert other_rep.is_active and not roles.is_manager(other_rep)


def test_menu_shows_users_to_managers_only(manager_client, rep_client):
    assert f'href="{USERS}"' in manager_client.get(reverse("sales:team")).content.decode()
    assert f'href="{USERS}"' not in rep_client.get(reverse("sales:inbox")).content.decode()


def test_manager_invites_from_the_page(
    manager_client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            reverse("sales:user_invite"),
            {"email": "new@example.com", "role": "sales"},
            follow=True,
        )
    assert response.redirect_chain[-1][0] == USERS
    assert "Invitation sent to new@example.com" in response.content.decode()
    assert [m.to for m in mailoutbox] == [["new@example.com"]]
    # The same address again is a form error, not a second link.
    again = manager_client.post(
        reverse("sales:user_invite"), {"email": "new@example.com", "role": "sales"}
    )
    assert again.status_code == 200 and again.context["form"].errors["email"]


def test_users_page_lists_people_invitations_and_states(
    manager_client, manager, rep, make_lead, django_assert_max_num_queries
):
    make_lead(Stage.ACCEPTED)
    factories.rep(username="gone", is_active=False)
    for n in range(10):
        factories.marketer(username=f"m{n}")
    invitation_create(by=manager, email="open@example.com", role="manager")
    with django_assert_max_num_queries(12):
        body = manager_client.get(USERS).content.decode()
    assert "open@example.com" in body and "deactivated" in body
    row = body[body.index(f'href="{reverse("sales:user_detail", args=[rep.pk])}"') :]
    assert row[: row.index("</tr>")].count("<td") == 5


def test_user_page_links_the_login_unlock(manager_client, rep):
    body = manager_client.get(reverse("sales:user_detail", args=[rep.pk])).content.decode()
    assert reverse("sales:login_unlock", args=[rep.pk]) in body
    assert reverse("sales:user_deactivate", args=[rep.pk]) in body


def test_manager_deactivates_and_reactivates_from_the_page(manager_client, rep, other_rep, book):
    url = reverse("sales:user_deactivate", args=[rep.pk])
    refused = manager_client.post(url, {"reassign": "rep"}, follow=True)
    assert "Choose the rep who takes their leads." in refused.content.decode()
    response = manager_client.post(
        url, {"reassign": "rep", "to_user": other_rep.pk, "note": "Left the company"}, follow=True
    )
    body = response.content.decode()
    assert "rep1 is deactivated" in body and "4 leads to rep2" in body
    assert all(owners(book)[stage] == other_rep for stage in OPEN)
    assert Handoff.objects.filter(note="Left the company").count() == 4
    assert "Reactivate" in body
    response = manager_client.post(reverse("sales:user_reactivate", args=[rep.pk]), follow=True)
    assert "rep1 can log in again." in response.content.decode()


def test_page_refusal_is_a_message(manager_client, manager):
    response = manager_client.post(
        reverse("sales:user_deactivate", args=[manager.pk]), {"reassign": "queue"}, follow=True
    )
    assert "You cannot deactivate yourself" in response.content.decode()


def test_role_change_from_the_page(manager_client, marketer):
    response = manager_client.post(
        reverse("sales:user_role", args=[marketer.pk]), {"role": "sales"}, follow=True
    )
    assert "marketer now has the role Sales." in response.content.decode()
    assert roles.is_rep(User.objects.get(pk=marketer.pk))


def test_invitation_withdraw_and_resend_from_the_page(manager_client, manager):
    invitation = invitation_create(by=manager, email="x@example.com", role="sales")
    nonce = invitation.nonce
    manager_client.post(reverse("sales:invitation_resend", args=[invitation.pk]))
    invitation.refresh_from_db()
    assert invitation.nonce != nonce
    manager_client.post(reverse("sales:invitation_revoke", args=[invitation.pk]))
    invitation.refresh_from_db()
    assert invitation.state == "revoked"


def test_a_user_without_open_leads_is_deactivated_without_a_reassignment_choice(
    manager_client, marketer
):
    page = manager_client.get(reverse("sales:user_detail", args=[marketer.pk]))
    assert "reassign" not in page.context["deactivate_form"].fields
    response = manager_client.post(reverse("sales:user_deactivate", args=[marketer.pk]), {})
    assert response.status_code == 302
    marketer.refresh_from_db()
    assert not marketer.is_active


def test_leads_arriving_before_the_post_ask_where_they_go(manager_client, rep, make_lead):
    page = manager_client.get(reverse("sales:user_detail", args=[rep.pk]))
    assert "reassign" not in page.context["deactivate_form"].fields
    make_lead(Stage.ACCEPTED)
    response = manager_client.post(
        reverse("sales:user_deactivate", args=[rep.pk]), {}, follow=True
    )
    assert "Choose where their open leads go." in response.content.decode()
    rep.refresh_from_db()
    assert rep.is_active
