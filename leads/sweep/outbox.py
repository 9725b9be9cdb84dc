"""The flag outbox: each raised flag notifies its responsible person once (SPEC §4).
Flags with ``notified_at IS NULL`` are the outbox; see leads/sweep/flags.py."""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from leadflow.i18n import user_language
from leadflow.models import NotificationKind, WebhookEvent
from leadflow.notifications.emails import send_templated
from leadflow.notifications.notify import active_managers, notify
from leadflow.webhooks import events

from ..models import Flag, FlagKind

log = logging.getLogger(__name__)

FLAG = Flag._meta.db_table


# Claim a batch by leasing it: a flag leased by a run that died (its lease ran out) is
# claimable again, and the outer condition re-checks each row, so two drains racing never
# claim the same flag (the loser's UPDATE re-reads the row after the winner's commit).
_FREE = "notified_at IS NULL AND (notify_lease_until IS NULL OR notify_lease_until < %s)"
CLAIM_SQL = (
    f"UPDATE {FLAG} SET notify_lease_until = %s WHERE {_FREE} AND id IN ("
    f"SELECT id FROM {FLAG} WHERE {_FREE} ORDER BY raised_at, id LIMIT %s) "
    "RETURNING id"
)
# How long a drain may take to notify one claimed batch before another may take it over.
NOTIFY_LEASE = timedelta(minutes=2)

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


def claim_flags(limit, now=None):
    """Lease up to ``limit`` flags of the outbox to this drain; returns (ids, lease).

    The conditional UPDATE's row count is the proof: a flag another drain holds is not
    free and is not returned here. ``lease`` (the lease's end) identifies this claim."""
    now = now or timezone.now()
    lease = now + NOTIFY_LEASE
    adapt = connection.ops.adapt_datetimefield_value
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(CLAIM_SQL, [adapt(lease), adapt(now), adapt(now), limit])
        ids = sorted(row[0] for row in cursor.fetchall())
    return ids, lease


def unclaim_flags(ids, lease):
    """Give claimed flags back to the outbox (only those still under this claim's lease)."""
    if not ids:
        return 0
    return Flag.objects.filter(pk__in=ids, notify_lease_until=lease).update(
        notify_lease_until=None
    )


def _mark_notified(flag, lease, now):
    """Record in the delivering transaction that ``flag`` was notified; False when this
    claim lost the flag's lease to another drain meanwhile (it then sends nothing)."""
    return bool(
        Flag.objects.filter(pk=flag.pk, notified_at=None, notify_lease_until=lease).update(
            notified_at=now, notify_lease_until=None
        )
    )


# Flag kinds that act instead of telling: kind -> service(lead=, at=). The sales app
# registers the reassign (sales.apps), which this layer below the services cannot import.
ACTIONS = {}


def team_leads_of(user):
    """The team leads of ``user``'s sales teams (sales.Team.lead)."""
    return list(get_user_model().objects.filter(teams_led__memberships__user=user).distinct())


def flag_recipients(flag, managers):
    """The flag's responsible user if active, else every active manager (SPEC §4). An
    escalation goes over the rep's head: to the team leads of their teams and the managers."""
    user = flag.responsible
    if flag.kind == FlagKind.RESPONSE_ESCALATED:
        leads = [u for u in team_leads_of(user) if u.is_active] if user is not None else []
        return list({u.pk: u for u in [*leads, *managers]}.values())
    if user is not None and user.is_active:
        return [user]
    return managers


def _flag_text(flag):
    return _("%(kind)s (%(side)s side)") % {
        "kind": flag.get_kind_display(),
        "side": flag.get_side_display().lower(),
    }


def _deliver(flag, recipients, lease, now):
    """In-app notification and email for each recipient, and the flag marked notified:
    all or nothing per flag, in one transaction that commits after the mails went out.
    Returns the number of emails, or None when the flag's lease was lost.

    The escalation ladder's last step acts instead of telling: a response_reassigned flag
    reassigns its lead by the rules (the reassign tells both reps), in the transaction
    that marks it done, so two drains never reassign a lead twice."""
    emails = 0
    with transaction.atomic():
        if not _mark_notified(flag, lease, now):
            return None
        events.emit(WebhookEvent.FLAG_RAISED, lead=flag.lead, flag=flag, at=flag.raised_at)
        if flag.kind in ACTIONS:
            ACTIONS[flag.kind](lead=flag.lead, at=now)
            return 0
        for user in recipients:
            # In the recipient's language: the notification's text and the email.
            with translation.override(user_language(user)):
                emails += _deliver_to(flag, user)
    return emails


def _deliver_to(flag, user):
    sent = []

    def send(notification):
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
                "for_managers": flag.kind != FlagKind.RESPONSE_ESCALATED
                and (flag.responsible_id is None or not flag.responsible.is_active),
                "escalated": flag.kind == FlagKind.RESPONSE_ESCALATED,
            },
        )
        sent.append(notification)

    notify(
        user=user,
        kind=NotificationKind.FLAG_RAISED,
        lead=flag.lead,
        text=_flag_text(flag),
        email=True,
        send_email=send,
    )
    return len(sent)


def drain_flag_outbox(*, batch_size=200, now=None):
    """Notify the people responsible for one batch of raised, not yet notified flags.

    Contract:
    - leases at most ``batch_size`` free flags (oldest first) with a conditional UPDATE;
      only the flags this call leased are sent, so two drains at once never notify a flag
      twice;
    - for each leased open flag, in one transaction: the flag is marked notified, one
      in-app notification (kind FLAG_RAISED) and one email per recipient: the responsible
      user, or every active manager when there is none (or they are inactive). A flag is
      marked notified only in the transaction that sent it, never before;
    - the transaction that marks a flag notified also writes its ``flag.raised`` webhook
      event (leadflow/webhooks/events.py), so each raised flag is one event, sent or
      rolled back with its notification;
    - a flag resolved before it was notified is marked notified without a message (there
      is nothing to tell any more), still with its event, and counted in ``skipped``;
    - when sending fails, that flag and the rest of the batch go back to the outbox at
      once (nothing lost) and are listed in ``failed``; the caller retries later;
    - a drain killed mid-batch leaves its unsent flags leased for NOTIFY_LEASE; then any
      drain takes them again;
    - ``more`` says a full batch was claimed, so the caller should drain again.
    """
    now = now or timezone.now()
    ids, lease = claim_flags(batch_size, now)
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
                # Nobody to tell any more, but integrations still hear it was raised.
                with transaction.atomic():
                    if _mark_notified(flag, lease, now):
                        events.emit(
                            WebhookEvent.FLAG_RAISED, lead=flag.lead, flag=flag, at=flag.raised_at
                        )
                result.skipped += 1
                continue
            try:
                emails = _deliver(flag, flag_recipients(flag, managers), lease, now)
            except SEND_ERRORS as exc:
                rest = [f.pk for f in flags[i:] if f.resolved_at is None]
                unclaim_flags(rest, lease)
                result.failed = rest
                log.warning(
                    "flag notification failed, %s flag(s) back in the outbox: %s", len(rest), exc
                )
                break
            if emails is None:
                continue  # another drain took it over
            result.emails += emails
            result.notified += 1
    return result
