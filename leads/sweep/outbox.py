"""The flag outbox: each raised flag notifies its responsible person once (SPEC §4).
Flags with ``notified_at IS NULL`` are the outbox; see leads/sweep/flags.py."""

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from leadflow import roles
from leadflow.i18n import user_language
from leadflow.models import NotificationKind
from leadflow.notifications.emails import send_templated
from leadflow.notifications.notify import notify

from ..models import Flag

log = logging.getLogger(__name__)
User = get_user_model()

FLAG = Flag._meta.db_table


CLAIM_SQL = (
    f"UPDATE {FLAG} SET notified_at = %s WHERE notified_at IS NULL AND id IN ("
    f"SELECT id FROM {FLAG} WHERE notified_at IS NULL ORDER BY raised_at, id LIMIT %s) "
    "RETURNING id"
)

# What counts as "the mail server failed" (smtplib's errors are OSErrors).
SEND_ERRORS = (OSError,)


@dataclass
class DrainResult:
    claimed: int = 0
    notified: int = 0  # flags whose people were told
    skipped: int = 0  # claimed but already resolved: nothing to tell any more
    emails: int = 0
    failed: list = field(default_factory=list)  # flag ids un-claimed after a failed send
    more: bool = False  # a full batch was claimed: there may be more in the outbox


def active_managers():
    return list(
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name=roles.MANAGERS))
        .select_related("profile")  # their language, for the emails
        .distinct()
        .order_by("username")
    )


def claim_flags(limit, now=None):
    """Claim up to ``limit`` flags from the outbox for this worker; returns (ids, stamp).

    The conditional UPDATE's row count is the proof: a row another worker claimed first
    is no longer ``notified_at IS NULL`` and is not returned here."""
    stamp = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(CLAIM_SQL, [connection.ops.adapt_datetimefield_value(stamp), limit])
        ids = sorted(row[0] for row in cursor.fetchall())
    return ids, stamp


def unclaim_flags(ids, stamp):
    """Put claimed flags back in the outbox (only if still carrying this worker's claim)."""
    if not ids:
        return 0
    return Flag.objects.filter(pk__in=ids, notified_at=stamp).update(notified_at=None)


def flag_recipients(flag, managers):
    """The flag's responsible user if active, else every active manager (SPEC §4)."""
    user = flag.responsible
    if user is not None and user.is_active:
        return [user]
    return managers


def _flag_text(flag):
    return _("%(kind)s (%(side)s side)") % {
        "kind": flag.get_kind_display(),
        "side": flag.get_side_display().lower(),
    }


def _deliver(flag, recipients):
    """In-app notification and email for each recipient; all or nothing per flag."""
    emails = 0
    with transaction.atomic():
        for user in recipients:
            # In the recipient's language: the notification's text and the email.
            with translation.override(user_language(user)):
                emails += _deliver_to(flag, user)
    return emails


def _deliver_to(flag, user):
    notification = notify(
        user=user, kind=NotificationKind.FLAG_RAISED, lead=flag.lead, text=_flag_text(flag)
    )
    if user.email:
        # Sent inside the caller's transaction: a mail-server failure rolls the in-app
        # notifications back too, so the retry does not duplicate them.
        send_templated(
            "notification_flag_raised",
            to=[user.email],
            context={
                "notification": notification,
                "lead": flag.lead,
                "flag": flag,
                "recipient": user,
                "for_managers": flag.responsible_id is None or not flag.responsible.is_active,
            },
        )
        return 1
    return 0


def drain_flag_outbox(*, batch_size=200, now=None):
    """Notify the people responsible for one batch of raised, not yet notified flags.

    Contract:
    - claims at most ``batch_size`` flags (oldest first) with a conditional UPDATE on
      ``notified_at``; only the flags this call claimed are sent, so two workers draining
      at once never notify a flag twice;
    - for each claimed open flag: one in-app notification (kind FLAG_RAISED) and one
      email per recipient: the responsible user, or every active manager when there is
      none (or they are inactive); a flag resolved before it was notified is skipped;
    - when sending fails, that flag and the rest of the batch are un-claimed (back in the
      outbox, nothing lost) and listed in ``failed``; the caller retries later;
    - ``more`` says a full batch was claimed, so the caller should drain again.
    A worker killed between the claim and the send loses that batch's notifications; the
    claim is kept short (one batch) to keep that window small.
    """
    ids, stamp = claim_flags(batch_size, now)
    result = DrainResult(claimed=len(ids), more=len(ids) >= batch_size)
    if not ids:
        return result
    flags = list(
        Flag.objects.filter(pk__in=ids)
        .select_related(
            "lead", "lead__campaign", "lead__owner", "responsible", "responsible__profile"
        )
        .order_by("raised_at", "id")
    )
    managers = active_managers()
    # Each recipient's language is switched to in _deliver; the site's default otherwise.
    with translation.override(settings.LANGUAGE_CODE):
        for i, flag in enumerate(flags):
            if flag.resolved_at is not None:
                result.skipped += 1
                continue
            try:
                result.emails += _deliver(flag, flag_recipients(flag, managers))
            except SEND_ERRORS as exc:
                rest = [f.pk for f in flags[i:] if f.resolved_at is None]
                unclaim_flags(rest, stamp)
                result.failed = rest
                log.warning(
                    "flag notification failed, %s flag(s) back in the outbox: %s", len(rest), exc
                )
                break
            result.notified += 1
    return result
