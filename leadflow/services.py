"""Personal API tokens: created, shown once, revoked (SPEC §6); a manager's retry of a
background task that gave up; a manager's unlock of a username locked out of logging in;
a person's notification preferences."""

import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leadflow.errors import InvalidInput, TransitionNotAllowed

from . import outbox, permissions, throttle
from .models import EMAILED_KINDS, ApiToken, NotificationKind, NotificationSetting

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
