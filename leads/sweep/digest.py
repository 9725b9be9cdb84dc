"""The managers' daily digest of flags (SPEC §4)."""

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from leadflow.i18n import user_language
from leadflow.names import person
from leadflow.notifications.emails import send_templated
from leadflow.notifications.notify import active_managers

from ..models import Flag, FlagKind, Side

log = logging.getLogger(__name__)
User = get_user_model()


OLDEST_OPEN = 10


@dataclass
class Digest:
    since: dt.datetime
    until: dt.datetime
    # [(side label, [(person, count), ...], side total)], sides in SPEC order
    raised_by_side: list
    raised_total: int
    open_total: int
    oldest_open: list  # Flags, oldest first, with lead and responsible loaded

    @property
    def is_empty(self):
        return not self.raised_total and not self.open_total


def build_flag_digest(now=None):
    """What the managers' daily digest says: flags raised in the 24 hours before ``now``
    by side and responsible person (no one = the managers), and the oldest open flags.
    A fixed number of queries."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=1)
    rows = (
        Flag.objects.filter(raised_at__gt=since, raised_at__lte=now)
        .values("side", "responsible")
        .annotate(n=Count("id"))
        .order_by()
    )
    people_by_id = User.objects.in_bulk({row["responsible"] for row in rows} - {None})
    per_side = defaultdict(list)
    for row in rows:
        # Lazy: each manager's digest is written in their language.
        per_side[row["side"]].append(
            (person(people_by_id.get(row["responsible"])) or gettext_lazy("managers"), row["n"])
        )
    raised_by_side = []
    for side in (Side.MARKETING, Side.SALES):
        people = sorted(per_side.get(side.value, []), key=lambda p: (-p[1], str(p[0])))
        if people:
            raised_by_side.append((side.label, people, sum(n for _name, n in people)))
    open_flags = Flag.objects.open()
    return Digest(
        since=since,
        until=now,
        raised_by_side=raised_by_side,
        raised_total=sum(total for *_rest, total in raised_by_side),
        open_total=open_flags.count(),
        oldest_open=list(
            open_flags.select_related("lead", "responsible").order_by("raised_at", "id")[
                :OLDEST_OPEN
            ]
        ),
    )


def flag_digest(now=None):
    """Mail the daily flag digest to every active manager with an email address.

    Returns the Digest and the number of emails sent; nothing is sent when no flag was
    raised in the last day and none is open."""
    digest = build_flag_digest(now)
    if digest.is_empty:
        return digest, 0
    sent = 0
    for manager in active_managers():
        if not manager.email:
            continue
        with translation.override(user_language(manager)):
            send_templated(
                "flag_digest",
                to=[manager.email],
                context={"digest": digest, "recipient": manager, "kinds": FlagKind},
            )
            sent += 1
    return digest, sent
