"""Personal API tokens: created, shown once, revoked (SPEC §6); a manager's retry of a
background task that gave up; a manager's unlock of a username locked out of logging in;
a manager's invitations of new users, and their acceptance; a person's notification
preferences."""

import datetime as dt
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from leadflow.errors import InvalidInput, TransitionNotAllowed

from . import outbox, permissions, roles, throttle
from .jobs import enqueue
from .models import (
    EMAILED_KINDS,
    ApiToken,
    Invitation,
    NotificationKind,
    NotificationSetting,
    Profile,
)

TOKEN_NAME_MAX = 100


@transaction.atomic
def api_token_create(*, user, name=""):
    """Create a token for ``user``; returns ``(ApiToken, token)``. The plain token exists only
    in this return value: the database keeps its SHA-256 digest and a short prefix."""
    name = (name or "").strip()
    if len(name) > TOKEN_NAME_MAX:
        raise InvalidInput(
            _("Keep the name under %(n)s characters.") % {"n": TOKEN_NAME_MAX}, field="name"
        )
    if not user.is_active:
        raise InvalidInput(_("An inactive user cannot have API tokens."), field="user")
    token = ApiToken.SCHEME + secrets.token_urlsafe(32)
    api_token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=token[: ApiToken.PREFIX_LENGTH],
        digest=ApiToken.digest_of(token),
    )
    return api_token, token


@transaction.atomic
def api_token_revoke(*, token, by, at=None):
    """Revoke one of ``by``'s own tokens; the row stays for the record. Revoking twice is
    refused so a stale page cannot claim it revoked something."""
    api_token = ApiToken.objects.select_for_update().get(pk=token.pk, user=by)
    if api_token.revoked_at is not None:
        raise TransitionNotAllowed(_("This token was already revoked."))
    api_token.revoked_at = at or timezone.now()
    api_token.save(update_fields=["revoked_at"])
    return api_token


@transaction.atomic
def outbox_message_retry(*, by, message_id):
    """A manager sends a background task that gave up (leadflow/outbox.py) once more."""
    permissions.require_manager(by)
    if not outbox.retry_later(message_id):
        raise TransitionNotAllowed(_("This task is no longer waiting for a retry."))


def login_unlock(*, by, user):
    """A manager clears every login lock-out of ``user``'s username, at every client address
    (leadflow/throttle.py); their next wrong passwords count from zero. A client address
    locked out for guessing many usernames stays locked out."""
    permissions.require_manager(by)
    throttle.unlock(user.get_username())


# --- invitations ---------------------------------------------------------------------

INVITATION_SALT = "leadflow.invitation"


def invitation_token(invitation):
    """The secret of an invitation's link: its id and nonce, signed with SECRET_KEY. The
    database holds only the nonce, which is no use without the key."""
    return signing.dumps([invitation.pk, invitation.nonce], salt=INVITATION_SALT, compress=True)


def _invitation_of(token, *, lock=False):
    """The invitation a link's token names, if the token is genuine and still the latest
    one sent (a re-send draws a new nonce); otherwise an InvalidInput for the link."""
    refused = InvalidInput(_("This invitation link is not valid. Ask a manager for a new one."))
    try:
        pk, nonce = signing.loads(token, salt=INVITATION_SALT)
    except (signing.BadSignature, TypeError, ValueError):
        raise refused from None
    rows = Invitation.objects.select_for_update() if lock else Invitation.objects
    invitation = rows.filter(pk=pk).first() if isinstance(pk, int) else None
    if invitation is None or not constant_time_compare(str(nonce), invitation.nonce):
        raise refused
    return invitation


def invitation_check(token, at=None):
    """The invitation behind ``token`` while it can still be accepted; a readable refusal
    when it was revoked, accepted or has expired."""
    invitation = _invitation_of(token)
    _require_open(invitation, at or timezone.now())
    return invitation


def _require_open(invitation, at):
    if invitation.accepted_at:
        raise TransitionNotAllowed(_("This invitation was already used: log in instead."))
    if invitation.revoked_at:
        raise TransitionNotAllowed(
            _("This invitation was withdrawn. Ask a manager for a new one.")
        )
    if invitation.expires_at <= at:
        raise TransitionNotAllowed(
            _("This invitation has expired. Ask a manager to send it again.")
        )


def _renew(invitation, at):
    invitation.nonce = secrets.token_hex(16)
    invitation.sent_at = at
    invitation.expires_at = at + dt.timedelta(days=settings.INVITATION_EXPIRY_DAYS)


@transaction.atomic
def invitation_create(*, by, email, role, at=None):
    """A manager invites ``email`` to LeadFlow as ``role`` (a key of roles.ROLE_GROUPS); the
    e-mail with the link leaves through the outbox. One open invitation per address, and
    none for an address that already has an account."""
    permissions.require_manager(by)
    at = at or timezone.now()
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(_("Enter a valid e-mail address."), field="email") from None
    if role not in roles.ROLE_GROUPS:
        raise InvalidInput(_("Choose marketing, sales or manager."), field="role")
    existing = get_user_model().objects.filter(email__iexact=email).first()
    if existing is not None:
        if existing.is_active:
            message = _("%(user)s already has an account with this e-mail.")
        else:
            message = _("%(user)s has this e-mail and is deactivated: reactivate them instead.")
        raise InvalidInput(message % {"user": existing.get_username()}, field="email")
    invitation = Invitation(email=email, role=role, invited_by=by)
    _renew(invitation, at)
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError:
        # The partial unique index: another manager invited the address a moment ago.
        raise InvalidInput(
            _("This address already has an open invitation: send it again instead."),
            field="email",
        ) from None
    enqueue("leadflow.tasks.send_invitation_email", invitation.pk)
    return invitation


def _locked_invitation(invitation):
    pk = invitation.pk if isinstance(invitation, Invitation) else invitation
    found = Invitation.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        raise TransitionNotAllowed(_("This invitation no longer exists."))
    return found


@transaction.atomic
def invitation_resend(*, invitation, by, at=None):
    """Send an invitation again with a fresh link and a fresh expiry; the old link stops
    working. An expired invitation can be sent again, an accepted or revoked one not."""
    permissions.require_manager(by)
    invitation = _locked_invitation(invitation)
    if invitation.accepted_at or invitation.revoked_at:
        raise TransitionNotAllowed(_("Only an open invitation can be sent again."))
    _renew(invitation, at or timezone.now())
    invitation.save(update_fields=["nonce", "sent_at", "expires_at"])
    enqueue("leadflow.tasks.send_invitation_email", invitation.pk)
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation, by, at=None):
    """Withdraw an invitation: its link stops working at once."""
    permissions.require_manager(by)
    invitation = _locked_invitation(invitation)
    if invitation.accepted_at:
        raise TransitionNotAllowed(_("This invitation was already accepted."))
    if invitation.revoked_at:
        raise TransitionNotAllowed(_("This invitation was already withdrawn."))
    invitation.revoked_at = at or timezone.now()
    invitation.save(update_fields=["revoked_at"])
    return invitation


@transaction.atomic
def invitation_accept(*, token, username, password, first_name="", last_name="", at=None):
    """The invitee chooses a username and password: the account is created with the
    invitation's e-mail and role, and the invitation is used up. Returns the new user."""
    User = get_user_model()
    invitation = _invitation_of(token, lock=True)
    at = at or timezone.now()
    _require_open(invitation, at)
    username = User.normalize_username((username or "").strip())
    if not username:
        raise InvalidInput(_("Choose a username."), field="username")
    try:
        User.username_validator(username)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="username") from None
    if len(username) > User._meta.get_field("username").max_length:
        raise InvalidInput(_("Choose a shorter username."), field="username")
    # Logins compare usernames without case (leadflow/throttle.py), so "Rep1" is rep1.
    if User.objects.filter(username__iexact=username).exists():
        raise InvalidInput(_("This username is taken: choose another."), field="username")
    user = User(
        username=username,
        email=invitation.email,
        first_name=(first_name or "").strip()[:150],
        last_name=(last_name or "").strip()[:150],
    )
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="password") from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise InvalidInput(
            _("This username is taken: choose another."), field="username"
        ) from None
    user.groups.add(Group.objects.get_or_create(name=roles.ROLE_GROUPS[invitation.role])[0])
    Profile.objects.get_or_create(user=user)
    invitation.accepted_at = at
    invitation.user = user
    invitation.save(update_fields=["accepted_at", "user"])
    return user


@transaction.atomic
def notification_settings_save(*, user, choices):
    """Keep ``user``'s choice per kind of notification: ``choices`` maps a kind to
    (in_app, email). A kind that is never e-mailed keeps e-mail on (there is nothing to
    switch); a kind left at both channels on needs no row."""
    for kind, (in_app, email) in choices.items():
        if kind not in NotificationKind.values:
            raise InvalidInput(_("Unknown kind of notification."), field="kind")
        email = bool(email) or kind not in EMAILED_KINDS
        if in_app and email:
            NotificationSetting.objects.filter(user=user, kind=kind).delete()
        else:
            NotificationSetting.objects.update_or_create(
                user=user, kind=kind, defaults={"in_app": bool(in_app), "email": email}
            )
