"""Revenue at risk and the joint SLA's scorecard at scale (issue 19 items 4 and 5).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadflow_bench \\
        .venv/bin/python benchmarks/joint_sla.py --leads 1000000

Seeds N leads with seed_demo unless the database already holds exactly N (--no-seed skips
the check), brings the statistics up to date, then prints (median of 5 runs, server time
through Django's test client, and the statements each ran):

  scorecard   GET /dashboard/joint-sla/ (12 months, targets, terms, policy)
  csv         GET /dashboard/joint-sla/scorecard.csv
  risk        the dashboard's three revenue-at-risk reads for the last 90 days and a year
              (comparable values over the 365 days before, per campaign, per rep x channel)

PostgreSQL only.
"""

import argparse
import time

from _common import client_for, machine, median_ms, setup


def timed(func, repeat):
    """(median milliseconds, statements of one run) of ``func``."""
    from django.db import connection

    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    func()  # warm caches
    # Counted by a wrapper: the test client's request_started resets the query log.
    with connection.execute_wrapper(count):
        func()
    return median_ms(func, repeat, warm_up=False), len(statements)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-seed", action="store_true")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median)")
    args = parser.parse_args()
    setup()
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from leads.demo.seeder import Seeder, reset_demo_data
    from leads.models import CohortStats, Lead
    from leads.reporting import definitions, stats

    if connection.vendor != "postgresql":
        raise SystemExit("Run this against PostgreSQL (set DATABASE_URL).")
    print(machine())
    if not args.no_seed and Lead.objects.count() != args.leads:
        started = time.perf_counter()
        reset_demo_data()
        Seeder(leads=args.leads, seed=args.seed).run()
        print(f"seeded {args.leads:,} leads in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    if not stats.refresh():
        stats.rebuild()
    print(f"statistics brought up to date: {time.perf_counter() - started:.1f} s")
    print(f"CohortStats rows: {CohortStats.objects.count():,}")

    client = client_for("manager")

    def get(url):
        def run():
            response = client.get(url)
            assert response.status_code == 200, response.status_code

        return run

    print(f"\n{'figure':<22} {'median':>9} {'statements':>11}")
    for label, func in (
        ("scorecard page", get("/dashboard/joint-sla/")),
        ("scorecard csv", get("/dashboard/joint-sla/scorecard.csv")),
    ):
        ms, n = timed(func, args.repeat)
        print(f"{label:<22} {ms:>7.1f}ms {n:>11}")
    today = timezone.localdate()
    for label, days in (("risk, 90 days", 90), ("risk, 365 days", 365)):
        filters = definitions.Filters(start=today - dt.timedelta(days=days - 1), end=today)

        def risk(filters=filters):
            values = stats.comparable_values(filters.start)
            stats.revenue_at_risk(filters, values)
            stats.ball_dropped_by_rep(filters, values)

        ms, n = timed(risk, args.repeat)
        print(f"{label:<22} {ms:>7.1f}ms {n:>11}")


if __name__ == "__main__":
    main()
