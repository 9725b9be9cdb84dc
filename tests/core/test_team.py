"""Invitations (a manager invites a user by e-mail with a role; the link sets a username and
password and logs them in) and every user's password reset and change pages (issue 18,
item 7)."""

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from leadflow import roles, services
from leadflow.errors import ActionForbidden, InvalidInput, TransitionNotAllowed
from leadflow.models import Invitation, OutboxMessage
from tests import factories

User = get_user_model()
PASSWORD = "a-Long-enough-passw0rd"


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def invite(manager, email="new.rep@example.com", role="sales", **kwargs):
    return services.invitation_create(by=manager, email=email, role=role, **kwargs)


def link_in(mail):
    return re.search(r"https?://\S+/accounts/invitation/\S+/", mail.body).group(0)


def path_of(url):
    return urlsplit(url).path


# --- services --------------------------------------------------------------------------


def test_invitation_mails_a_link_through_the_outbox(
    manager, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invite(manager)
    assert OutboxMessage.objects.filter(
        task="leadflow.tasks.send_invitation_email", args=[invitation.pk]
    ).exists()
    assert [m.to for m in mailoutbox] == [["new.rep@example.com"]]
    mail = mailoutbox[0]
    assert "invited you to LeadFlow" in mail.subject
    assert services.invitation_check(link_in(mail).rstrip("/").rsplit("/", 1)[1]) == invitation
    # The secret is signed in the worker: the outbox row holds only the invitation's id.
    assert invitation.nonce not in str(OutboxMessage.objects.values_list("args", "kwargs"))


def test_accepting_creates_the_user_with_the_role_and_uses_the_invitation(manager):
    invitation = invite(manager, role="sales")
    token = services.invitation_token(invitation)
    user = services.invitation_accept(
        token=token, username="sanne", password=PASSWORD, first_name="Sanne", last_name="Bakker"
    )
    assert user.check_password(PASSWORD)
    assert user.email == "new.rep@example.com"
    assert user.get_full_name() == "Sanne Bakker"
    assert roles.is_rep(user) and not roles.is_manager(user)
    assert user in roles.active_reps()
    invitation.refresh_from_db()
    assert invitation.user == user and invitation.state == "accepted"
    with pytest.raises(TransitionNotAllowed, match="already used"):
        services.invitation_accept(token=token, username="other", password=PASSWORD)


def test_expired_invitation_is_refused_and_a_resend_renews_it(manager, settings):
    settings.INVITATION_EXPIRY_DAYS = 7
    invitation = invite(manager)
    old_token = services.invitation_token(invitation)
    with time_machine.travel(timezone.now() + dt.timedelta(days=7, minutes=1)):
        with pytest.raises(TransitionNotAllowed, match="expired"):
            services.invitation_check(old_token)
        with pytest.raises(TransitionNotAllowed, match="expired"):
            services.invitation_accept(token=old_token, username="late", password=PASSWORD)
        invitation = services.invitation_resend(invitation=invitation, by=manager)
        new_token = services.invitation_token(invitation)
        # The re-sent link works; the first one is dead for good.
        with pytest.raises(InvalidInput, match="not valid"):
            services.invitation_check(old_token)
        assert services.invitation_accept(token=new_token, username="late", password=PASSWORD)
    assert not User.objects.filter(username="late").exclude(invitation=invitation).exists()


def test_revoked_invitation_link_stops_working(manager):
    invitation = invite(manager)
    token = services.invitation_token(invitation)
    services.invitation_revoke(invitation=invitation, by=manager)
    with pytest.raises(TransitionNotAllowed, match="withdrawn"):
        services.invitation_accept(token=token, username="nope", password=PASSWORD)
    with pytest.raises(TransitionNotAllowed):
        services.invitation_resend(invitation=invitation, by=manager)
    assert not User.objects.filter(username="nope").exists()
    # Withdrawn, the address may be invited again.
    assert invite(manager).pk != invitation.pk


def test_forged_or_mangled_tokens_are_refused(manager):
    invitation = invite(manager)
    token = services.invitation_token(invitation)
    for bad in (
        "",
        "x",
        token[:-2] + "zz",
        token.replace(token[0], "A" if token[0] != "A" else "B"),
    ):
        with pytest.raises(InvalidInput, match="not valid"):
            services.invitation_check(bad)


def test_only_managers_invite_resend_and_revoke(manager, marketer, rep):
    invitation = invite(manager)
    for user in (marketer, rep):
        with pytest.raises(ActionForbidden):
            invite(user, email="x@example.com")
        with pytest.raises(ActionForbidden):
            services.invitation_resend(invitation=invitation, by=user)
        with pytest.raises(ActionForbidden):
            services.invitation_revoke(invitation=invitation, by=user)
    assert Invitation.objects.count() == 1


@pytest.mark.parametrize(
    "email, role, message",
    [
        ("not an address", "sales", "valid e-mail"),
        ("x@example.com", "admin", "marketing, sales or manager"),
        ("REP1@example.com", "sales", "already has an account"),
    ],
)
def test_bad_invitations_are_refused(manager, rep, email, role, message):
    with pytest.raises(InvalidInput, match=message):
        invite(manager, email=email, role=role)


def test_one_open_invitation_per_address(manager):
    invite(manager, email="twice@example.com")
    with pytest.raises(InvalidInput, match="open invitation"):
        invite(manager, email="Twice@Example.com")


def test_deactivated_users_address_asks_for_reactivation(manager):
    factories.rep(username="gone", email="gone@example.com", is_active=False)
    with pytest.raises(InvalidInput, match="reactivate"):
        invite(manager, email="gone@example.com")


def test_accept_refuses_taken_username_and_weak_password(manager, rep):
    token = services.invitation_token(invite(manager))
    with pytest.raises(InvalidInput, match="taken") as caught:
        services.invitation_accept(token=token, username="REP1", password=PASSWORD)
    assert caught.value.field == "username"
    with pytest.raises(InvalidInput) as caught:
        services.invitation_accept(token=token, username="fresh", password="12345678")
    assert caught.value.field == "password"
    assert Invitation.objects.get().state == "pending"


# --- pages -----------------------------------------------------------------------------


def test_invitee_sets_a_password_and_is_logged_in_with_their_role(
    client, manager, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(manager, role="marketing")
    url = path_of(link_in(mailoutbox[0]))
    page = client.get(url)
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    assert "new.rep@example.com" in page.content.decode()
    response = client.post(
        url,
        {"username": "mira", "password": PASSWORD, "password_again": PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/campaigns/"
    assert response.context["user"].username == "mira"
    assert roles.is_marketer(response.context["user"])
    # The link is used up.
    assert "already used" in client.get(url).content.decode()


def test_accept_page_shows_field_errors(client, manager):
    url = reverse("invitation_accept", args=[services.invitation_token(invite(manager))])
    response = client.post(
        url, {"username": "x", "password": PASSWORD, "password_again": PASSWORD + "!"}
    )
    assert response.status_code == 200
    assert "The two passwords differ." in response.content.decode()
    response = client.post(
        url, {"username": "bad name!", "password": PASSWORD, "password_again": PASSWORD}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["username"]
    assert not User.objects.filter(email="new.rep@example.com").exists()


def test_a_bad_invitation_link_is_a_readable_page(client, db):
    response = client.get(reverse("invitation_accept", args=["garbage"]))
    assert response.status_code == 200
    assert "not valid" in response.content.decode()


def test_login_page_links_forgot_password_and_menu_links_change_password(client, rep):
    assert reverse("password_reset") in client.get(reverse("login")).content.decode()
    client.force_login(rep)
    assert reverse("password_change") in client.get(reverse("profile")).content.decode()


def test_password_reset_mail_goes_through_the_outbox_and_resets(
    client, rep, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": rep.email})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert OutboxMessage.objects.filter(
        task="leadflow.tasks.send_password_reset_email", args=[rep.pk]
    ).exists()
    assert [m.to for m in mailoutbox] == [[rep.email]]
    assert "&#x27;" not in mailoutbox[0].body
    link = re.search(r"https?://\S+/accounts/reset/\S+/", mailoutbox[0].body).group(0)
    page = client.get(path_of(link), follow=True)
    assert page.context["validlink"]
    new = "Another-l0ng-secret"
    done = client.post(
        page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}, follow=True
    )
    assert done.redirect_chain[-1][0] == reverse("password_reset_complete")
    rep.refresh_from_db()
    assert rep.check_password(new)


def test_password_reset_of_an_unknown_or_inactive_address_sends_nothing(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    factories.rep(username="left", email="left@example.com", is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        for email in ("nobody@example.com", "left@example.com"):
            response = client.post(reverse("password_reset"), {"email": email})
            assert response.status_code == 302
    assert mailoutbox == []


def test_password_reset_is_throttled_per_email_and_per_address(client, rep, settings):
    settings.PASSWORD_RESET_RATE_PER_EMAIL = 2
    settings.PASSWORD_RESET_RATE_PER_IP = 4
    url = reverse("password_reset")
    assert [client.post(url, {"email": rep.email}).status_code for _ in range(3)] == [
        302,
        302,
        429,
    ]
    refused = client.post(url, {"email": rep.email})
    assert refused["Retry-After"] == "3600"
    assert "Too many reset requests" in refused.content.decode()
    # The address is now at 4: another e-mail from it is refused too; another address is not.
    assert client.post(url, {"email": "other@example.com"}).status_code == 429
    other = client.post(url, {"email": "third@example.com"}, REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 302
    assert (
        OutboxMessage.objects.filter(task="leadflow.tasks.send_password_reset_email").count() == 2
    )


def test_password_change_counts_wrong_old_passwords_as_failed_logins(client, rep, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    client.force_login(rep)
    url = reverse("password_change")
    assert client.get(url).status_code == 200
    wrong = {"old_password": "nope", "new_password1": PASSWORD, "new_password2": PASSWORD}
    for _ in range(3):
        assert client.post(url, wrong).status_code == 200
    right = {"old_password": "pw-Secret-123", "new_password1": PASSWORD, "new_password2": PASSWORD}
    response = client.post(url, right)
    assert response.status_code == 200
    assert "Too many failed logins" in response.content.decode()
    rep.refresh_from_db()
    assert rep.check_password("pw-Secret-123")


def test_password_change_works_with_the_old_password(client, rep):
    client.force_login(rep)
    response = client.post(
        reverse("password_change"),
        {"old_password": "pw-Secret-123", "new_password1": PASSWORD, "new_password2": PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == reverse("password_change_done")
    rep.refresh_from_db()
    assert rep.check_password(PASSWORD)


def test_password_change_needs_login(client, db):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
