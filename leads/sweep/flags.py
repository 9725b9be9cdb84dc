"""The sweep (SPEC §4): whose court has the ball been in for too long, and who is told.

Three jobs, each run by a thin Celery task in :mod:`leads.tasks`, a module each:

1. :func:`sweep_flags` (here) raises and resolves the flag kinds (FLAG_DEADLINE). Deadlines are
   computed when a lead changes (:func:`leads.sla.calendar.refresh_deadlines`) and stored
   on the lead, so the sweep only compares them with now: per kind one ``UPDATE``
   resolves and one ``INSERT … SELECT`` raises, plus one ``UPDATE`` that re-points open
   marketing flags at their campaign's current owner: a fixed number of statements whatever the
   number of leads, and no Python loop over leads (healthchecks' ``sendalerts``,
   set-based). Between hourly full sweeps it only looks at what changed since the
   previous sweep, so the steady state costs what changed, not what is open.
2. :func:`leads.sweep.outbox.drain_flag_outbox` notifies the responsible person of each
   raised flag once. Flags with ``notified_at IS NULL`` are the outbox; a worker leases a
   batch with a conditional ``UPDATE … RETURNING id`` and only sends what it leased, so
   two workers never both send. Each flag is marked notified in the transaction that
   sends it; a failed send gives the rest back, and a worker that died leaves its lease
   to run out, after which another drain takes them.
3. :func:`leads.sweep.digest.flag_digest` mails managers a daily summary.

The SQL is written once for PostgreSQL and SQLite ≥ 3.35 (``ON CONFLICT`` with a partial
index target, ``RETURNING``, ``UPDATE … FROM``).
"""

import datetime as dt
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Max, Q
from django.utils import timezone

from campaigns.models import Campaign

from ..models import FLAG_DEADLINE, FLAG_SIDE, Flag, Lead, Side, SweepRun

log = logging.getLogger(__name__)
User = get_user_model()

FLAG = Flag._meta.db_table
LEAD = Lead._meta.db_table
CAMPAIGN = Campaign._meta.db_table


# --- Raising and resolving ---------------------------------------------------------------

# An incremental sweep looks again at what changed this long before the last sweep's now:
# a lifecycle change's updated_at is stamped before its transaction commits, so a sweep
# may not see it yet. Longer than any transaction plus clock skew between servers.
INCREMENTAL_OVERLAP = dt.timedelta(minutes=15)
# Sweep runs are kept this long (the SLA page shows the latest).
KEEP_RUNS = dt.timedelta(days=7)


@dataclass
class SweepResult:
    now: dt.datetime
    full: bool
    since: dt.datetime | None = None
    raised: Counter = field(default_factory=Counter)
    resolved: Counter = field(default_factory=Counter)
    repointed: int = 0
    seconds: float = 0.0

    @property
    def total_raised(self):
        return sum(self.raised.values())

    @property
    def total_resolved(self):
        return sum(self.resolved.values())


def _resolve_sql(column, incremental):
    if incremental:
        # Time passing never un-passes a deadline: only a lead that changed can resolve.
        return (
            f"UPDATE {FLAG} SET resolved_at = %s "
            "WHERE kind = %s AND resolved_at IS NULL AND lead_id IN ("
            f"SELECT l.id FROM {LEAD} l WHERE l.updated_at > %s "
            f"AND (l.{column} IS NULL OR l.{column} > %s))"
        )
    # A flag whose lead no longer has a passed deadline (NULL or in the future) is
    # resolved. Served by flag_open_kind_idx and the lead pk (or a hash anti-join).
    return (
        f"UPDATE {FLAG} SET resolved_at = %s "
        f"WHERE kind = %s AND resolved_at IS NULL AND NOT EXISTS ("
        f"SELECT 1 FROM {LEAD} l WHERE l.id = {FLAG}.lead_id AND l.{column} <= %s)"
    )


def _raise_sql(column, side, incremental):
    if side == Side.MARKETING:
        responsible, join = "c.owner_id", f"LEFT JOIN {CAMPAIGN} c ON c.id = l.campaign_id"
    else:
        responsible, join = "l.owner_id", ""
    open_flag = (
        f"SELECT 1 FROM {FLAG} f WHERE f.lead_id = l.id AND f.kind = %s AND f.resolved_at IS NULL"
    )
    if incremental:
        # A deadline that passed since the last sweep (the partial index
        # lead_<deadline>_idx), or a lead that changed since (lead_updated_idx): a UNION,
        # because SQLite does not turn the OR of the two into two index ranges. The few
        # candidates each probe flag_one_open_per_lead_kind: a scalar subquery with LIMIT
        # is not turned into a join, so this never hashes every open flag of the kind.
        candidates = (
            f"AND l.id IN (SELECT id FROM {LEAD} WHERE {column} > %s AND {column} <= %s "
            f"UNION SELECT id FROM {LEAD} WHERE updated_at > %s) "
            f"AND ({open_flag} LIMIT 1) IS NULL"
        )
    else:
        candidates = f"AND NOT EXISTS ({open_flag})"
    # Skipping flagged leads keeps the steady state cheap (no speculative insert per
    # flagged lead); ON CONFLICT on the partial unique index makes racing sweeps safe.
    # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT (parsing ambiguity).
    return (
        f"INSERT INTO {FLAG} "
        "(lead_id, kind, side, responsible_id, due_at, lead_created_at, raised_at, "
        "resolved_at, notified_at) "
        f"SELECT l.id, %s, %s, {responsible}, l.{column}, l.created_at, %s, NULL, NULL "
        f"FROM {LEAD} l {join} "
        f"WHERE l.{column} <= %s {candidates} "
        "ON CONFLICT (lead_id, kind) WHERE resolved_at IS NULL DO NOTHING"
    )


def _repoint_sql(incremental):
    # A campaign's new owner gets its open marketing flags (picked up by the next full
    # sweep). Sales flags stay with whoever held the lead when they were raised: a claim
    # or reassign closes them as breaches on that person's record (sales.services), so
    # they never follow the lead. COALESCE(…, 0) is a NULL-safe "differs" that SQLite
    # 3.35 understands.
    current = "c.owner_id"
    return (
        f"UPDATE {FLAG} AS f SET responsible_id = {current} "
        f"FROM {LEAD} l LEFT JOIN {CAMPAIGN} c ON c.id = l.campaign_id "
        "WHERE l.id = f.lead_id AND f.resolved_at IS NULL AND f.side = 'marketing' "
        f"AND COALESCE(f.responsible_id, 0) <> COALESCE({current}, 0)"
        + (" AND l.updated_at > %s" if incremental else "")
    )


def _watermarks():
    marks = SweepRun.objects.aggregate(last=Max("at"), last_full=Max("at", filter=Q(full=True)))
    return marks["last"], marks["last_full"]


def sweep_flags(now=None, *, full=None):
    """Raise and resolve every flag kind of SPEC §4 in one pass; returns a SweepResult.

    Contract:
    - a flag of kind K is raised for each lead whose K deadline (FLAG_DEADLINE) is
      ``<= now`` and that has no open K flag; its side is FLAG_SIDE[K], its responsible
      user the lead's owner (sales) or its campaign's owner (marketing), NULL meaning
      "the managers"; ``notified_at`` stays NULL, which puts it in the outbox;
    - an open K flag is resolved (``resolved_at = now``; the row stays, as history) when
      the lead's K deadline is NULL or ``> now``;
    - open marketing flags are re-pointed at their campaign's current owner; a sales flag
      keeps the responsible user it was raised for;
    - idempotent: a second run with the same ``now`` changes nothing;
    - a fixed number of statements whatever the number of leads (25 for an incremental
      sweep over the eleven kinds; 26 for a full one, which also prunes old SweepRuns),
      each its own short transaction unless the caller holds one; two sweeps racing
      cannot open a duplicate flag (the partial unique constraint
      flag_one_open_per_lead_kind and ``ON CONFLICT DO NOTHING``).

    A full sweep examines every lead with a deadline; an incremental one only deadlines
    that passed, and leads that changed (``updated_at``), since the last sweep's ``now``
    minus INCREMENTAL_OVERLAP, which gives the same result as long as every writer of
    deadlines bumps ``Lead.updated_at`` (``Model.save`` does; the SLA recompute does).
    ``full=None`` decides: full when none ran for SWEEP_FULL_INTERVAL_SECONDS (the safety
    net), else
    incremental. With no earlier sweep (or one later than ``now``) it is always full.
    """
    started = time.perf_counter()
    now = now or timezone.now()
    last, last_full = _watermarks()
    if last is None or last > now:
        full = True  # nothing to be incremental to (or a clock that went back)
    elif full is None:
        full_every = dt.timedelta(seconds=settings.SWEEP_FULL_INTERVAL_SECONDS)
        full = last_full is None or now - last_full >= full_every
    result = SweepResult(now=now, full=full, since=None if full else last - INCREMENTAL_OVERLAP)
    at = connection.ops.adapt_datetimefield_value(now)
    since = None if full else connection.ops.adapt_datetimefield_value(result.since)
    incremental = not full
    with connection.cursor() as cursor:
        # Resolve before raise: a flag whose episode ended closes before a new one opens.
        for kind, column in FLAG_DEADLINE.items():
            params = [at, kind.value, since, at] if incremental else [at, kind.value, at]
            cursor.execute(_resolve_sql(column, incremental), params)
            result.resolved[kind.value] = max(cursor.rowcount, 0)
        for kind, column in FLAG_DEADLINE.items():
            side = FLAG_SIDE[kind]
            window = [since, at, since] if incremental else []
            cursor.execute(
                _raise_sql(column, side, incremental),
                [kind.value, side.value, at, at, *window, kind.value],
            )
            result.raised[kind.value] = max(cursor.rowcount, 0)
        cursor.execute(_repoint_sql(incremental), [since] if incremental else [])
        result.repointed = max(cursor.rowcount, 0)
    result.seconds = time.perf_counter() - started
    SweepRun.objects.create(
        at=now,
        full=full,
        raised=result.total_raised,
        resolved=result.total_resolved,
        seconds=result.seconds,
    )
    if full:
        SweepRun.objects.filter(at__lt=now - KEEP_RUNS).delete()
    if result.total_raised or result.total_resolved:
        log.info(
            "%s sweep at %s: raised %s, resolved %s",
            "full" if full else "incremental",
            now.isoformat(),
            dict(+result.raised),
            dict(+result.resolved),
        )
    return result
