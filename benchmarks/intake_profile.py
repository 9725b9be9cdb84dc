"""Where one public intake post spends its time, in-process: Django's test client (no
network, no gunicorn), DEBUG off, N JSON posts with unique emails (each creates a lead, a
touch and a stage change, as benchmarks/intake.py's load does).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lf_intake_bench \\
        .venv/bin/python benchmarks/intake_profile.py --posts 500

Prints the posts per second of this one process, the SQL round trips per post (every
statement the cursor runs, SAVEPOINTs included, plus the BEGIN and COMMIT of each
transaction), the statements of one post, and cProfile's top 25 entries by cumulative and
by own time. The rate limits are switched off (one client address, one key), as in
benchmarks/intake.py. Use a database of its own: the leads stay (the stage log is
append-only). PostgreSQL, or SQLite for a quick try.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import time
import uuid

import _common

# Plain static storage (no collected manifest needed); DEBUG is turned off after set-up.
_common.in_process_environment(debug="1")
os.environ["INTAKE_RATE_PER_IP"] = "0"
os.environ["INTAKE_RATE_PER_KEY"] = "0"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

settings.DEBUG = False  # no query log kept in memory, production error handling

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from campaigns.models import Campaign  # noqa: E402


class RoundTrips:
    """Counts what goes to the database: each cursor statement (an execute wrapper) and
    each COMMIT or ROLLBACK (a transaction's BEGIN is sent with its first statement, so
    it is counted once per COMMIT/ROLLBACK too)."""

    def __init__(self):
        self.statements = []
        self.ends = 0

    def __call__(self, execute, sql, params, many, context):
        self.statements.append(sql)
        return execute(sql, params, many, context)

    def wrap_ends(self):
        commit, rollback = connection._commit, connection._rollback

        def counted(original):
            def end():
                self.ends += 1
                return original()

            return end

        connection._commit, connection._rollback = counted(commit), counted(rollback)

    @property
    def total(self):
        return len(self.statements) + 2 * self.ends


def post(client, url, run, n):
    body = {
        "first_name": "Bench",
        "last_name": f"Lead {n}",
        "email": f"profile-{run}-{n}@example.com",
        "company": "Load Test B.V.",
        "message": "profile",
        "utm_source": "profile",
        "consent": True,
    }
    response = client.post(url, json.dumps(body), content_type="application/json")
    if response.status_code != 200:
        raise SystemExit(f"post {n}: {response.status_code} {response.content[:300]!r}")


def top(profile, key, limit=25):
    out = io.StringIO()
    pstats.Stats(profile, stream=out).strip_dirs().sort_stats(key).print_stats(limit)
    return out.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=500, help="posts to time (max 20000)")
    parser.add_argument("--no-profile", action="store_true", help="only the timing")
    args = parser.parse_args()
    if not 1 <= args.posts <= 20000:
        parser.error("--posts 1..20000")
    call_command("migrate", "--noinput", verbosity=0)
    campaign = Campaign.objects.filter(name="Intake benchmark").first()
    if campaign is None:
        campaign = Campaign.objects.create(
            name="Intake benchmark", channel="other", start_date="2026-01-01"
        )
    url = f"/intake/{campaign.intake_key}/"
    client = Client()
    run = uuid.uuid4().hex[:8]
    for n in range(20):  # warm-up: connection, caches, compiled templates
        post(client, url, run + "w", n)

    trips = RoundTrips()
    trips.wrap_ends()
    with connection.execute_wrapper(trips):
        post(client, url, run + "s", 0)
    one_post = list(trips.statements)
    per_post = trips.total

    started, cpu_started = time.perf_counter(), time.process_time()
    for n in range(args.posts):
        post(client, url, run, n)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started

    print(f"database: {connection.vendor}, cores: {os.cpu_count()}")
    print(f"{args.posts} posts in {elapsed:.2f} s: {args.posts / elapsed:.0f} posts/s in-process")
    print(f"{1000 * elapsed / args.posts:.2f} ms per post")
    # The process's own CPU: what a gunicorn worker spends per post, PostgreSQL's excluded.
    print(f"{1000 * cpu / args.posts:.2f} ms of this process's CPU per post")
    print(f"SQL round trips per post: {per_post} (BEGIN/COMMIT included)")
    for sql in one_post:
        print("   ", sql[:110])

    if not args.no_profile:
        # Timed by this process's CPU clock, so waiting on PostgreSQL (in Connection.wait)
        # counts for nothing and what is left is what a worker itself spends.
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for n in range(args.posts):
            post(client, url, run + "p", n)
        profile.disable()
        print("\n== top 25 by cumulative time ==")
        print(top(profile, "cumulative"))
        print("== top 25 by own time ==")
        print(top(profile, "tottime"))


if __name__ == "__main__":
    main()
