"""Timing of the rep inbox, GET /sales/, as rep1 holding about 200,000 open leads.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadflow_bench \\
        .venv/bin/python benchmarks/inbox.py

On demo data (seed_demo) rep1 holds about a third of the reps' leads. Inside one
transaction that is rolled back at the end, the script first gives rep1 every open lead
another rep holds (one UPDATE; --no-reassign skips it), then runs the page in-process
through Django's test client, logged in as rep1: one warm-up, then --repeat timed runs,
printing the median and the worst in milliseconds and the SQL queries per request. Then it
prints EXPLAIN (ANALYZE, BUFFERS) of each of the page's queries on leads, so the plan of
every section (and its index) is on record. The database is left as it was. PostgreSQL.
"""

import argparse
import os

import _common

# Plain static storage (no collected manifest needed); DEBUG is turned off after set-up.
_common.in_process_environment(debug="1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

settings.DEBUG = False  # no query log kept in memory, production error handling

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from leads.models import ENDED_STAGES, Lead  # noqa: E402

PAGE = "/sales/"


class Rollback(Exception):
    pass


def reassign_to(rep):
    """Every open lead another rep holds becomes rep's (one UPDATE, rolled back later)."""
    return (
        Lead.objects.filter(owner__isnull=False)
        .exclude(owner=rep)
        .exclude(stage__in=ENDED_STAGES)
        .update(owner=rep)
    )


def measure(client, repeat):
    run = _common.server_time(client, PAGE, repeat=repeat)
    if run.warm_up.status_code != 200:  # the correctness check
        raise SystemExit(f"{PAGE}: HTTP {run.warm_up.status_code}")
    return run.median_ms, run.worst_ms, run.queries


def explain(captured):
    """EXPLAIN ANALYZE of each captured query that reads the leads (the sections, the
    counts, the flags); session, user and notification queries are left out."""
    with connection.cursor() as cursor:
        for query in captured:
            sql = query["sql"]
            if not sql.startswith("SELECT") or '"leads_' not in sql:
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}")
            print("\n" + sql[:160] + " …")
            for (line,) in cursor.fetchall():
                print("   ", line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (default 5)")
    parser.add_argument("--no-reassign", action="store_true", help="measure the data as it is")
    parser.add_argument("--no-explain", action="store_true", help="skip the EXPLAIN output")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("PostgreSQL only.")
    rep = get_user_model().objects.get(username="rep1")
    client = Client()
    client.force_login(rep)
    try:
        with transaction.atomic():
            moved = 0 if args.no_reassign else reassign_to(rep)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE leads_lead")
            held = Lead.objects.filter(owner=rep).exclude(stage__in=ENDED_STAGES).count()
            total = Lead.objects.count()
            median, worst, captured = measure(client, args.repeat)
            print(
                f"{total:,} leads; rep1 holds {held:,} open ({moved:,} reassigned for the run); "
                f"{os.cpu_count()} cores; median of {args.repeat} after a warm-up"
            )
            print(
                f"GET {PAGE} as rep1: median {median:.1f} ms, worst {worst:.1f} ms, "
                f"{len(captured)} queries"
            )
            if not args.no_explain:
                explain(captured)
            raise Rollback
    except Rollback:
        pass  # the reassignment is undone


if __name__ == "__main__":
    main()
