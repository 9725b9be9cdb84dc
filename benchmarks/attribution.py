"""Multi-touch attribution at scale: the dashboard's read next to hand-written SQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadflow_bench \\
        .venv/bin/python benchmarks/attribution.py --no-seed

Seeds N leads with seed_demo unless the database already holds exactly N (--no-seed skips
the check), makes sure the statistics are current (timing a full rebuild unless
--no-rebuild), then for each attribution model and for a 90-day and a 365-day period
prints the median of 5 runs of:

  app   leads.reporting.stats.attribution: the panel's read (a sum over AttributionStats)
  sql   hand-written SQL computing the same model straight from the raw touches (window
        functions over the touches joined to the cohort's leads, the same exact split by
        largest remainder)

and app / sql, and checks that both give every campaign the same attributed leads,
pipeline and won revenue, to the millionth of a lead and the cent. PostgreSQL only.
"""

import argparse
import time

from _common import machine, median_ms

# Each counted touch's integer weight under a model (leads/reporting/attribution.py
# ``weights``), over ``pos`` (1-based in time order), ``n`` counted touches and, for
# W-shaped, ``mql_pos`` / ``handoff_pos`` (the latest touch at or before the moment).
WEIGHTS = {
    "first": "CASE WHEN pos = 1 THEN 1 ELSE 0 END",
    "last": "CASE WHEN pos = n THEN 1 ELSE 0 END",
    "linear": "1",
    "u_shaped": "CASE WHEN n <= 2 THEN 1 WHEN pos = 1 OR pos = n THEN 2 * (n - 2) ELSE 1 END",
    "w_shaped": """CASE
        WHEN n = 1 THEN 1
        WHEN others = 0 THEN key_count
        WHEN key_count > 0 THEN 3 * others * key_count
        ELSE 1 END""",
    # 2^52 * 2^(-Δ/7 days), Δ in microseconds from the latest counted touch (the reference
    # moment of the spec cancels in the normalisation), exact (numeric) before the double.
    "time_decay": """round(4503599627370496 * power(2::float8,
        (-(extract(epoch FROM latest - occurred_at) * 1000000))::float8 / 604800000000.0
    ))::bigint""",
}

SQL = """
WITH cohort AS (
    SELECT id, campaign_id, stage, created_at, closed_at, mql_at, handed_off_at,
           opportunity_at IS NOT NULL AS reached_opportunity,
           round(coalesce(deal_value, 0) * 100)::numeric AS cents,
           stage IN ('won', 'lost') AS closed
    FROM leads_lead
    WHERE created_at >= %(start)s AND created_at < %(end)s
),
touches AS (
    -- every touch of the cohort's leads (a lead without any: its own campaign at its
    -- creation), whether it counts (a closed lead's only up to its close)
    SELECT c.id AS lead_id, coalesce(t.id, 0) AS touch_id,
           coalesce(t.occurred_at, c.created_at) AS occurred_at,
           CASE WHEN t.id IS NULL THEN c.campaign_id ELSE t.campaign_id END AS campaign_id,
           t.id IS NULL OR coalesce(NOT (c.closed AND t.occurred_at > c.closed_at), true)
               AS counts,
           row_number() OVER (PARTITION BY c.id ORDER BY t.occurred_at, t.id) AS rn
    FROM cohort c LEFT JOIN leads_touch t ON t.lead_id = c.id
),
path AS (
    -- the counted touches, or the first touch of a lead with none counted
    SELECT lead_id, touch_id, occurred_at, campaign_id
    FROM (SELECT *, bool_or(counts) OVER (PARTITION BY lead_id) AS any_counted
          FROM touches) x
    WHERE counts OR (NOT any_counted AND rn = 1)
),
ordered AS (
    SELECT p.*, c.mql_at, c.handed_off_at, c.cents, c.reached_opportunity,
           c.stage = 'won' AS won,
           row_number() OVER (PARTITION BY p.lead_id ORDER BY p.occurred_at, p.touch_id) AS pos,
           count(*) OVER (PARTITION BY p.lead_id) AS n,
           max(p.occurred_at) OVER (PARTITION BY p.lead_id) AS latest
    FROM path p JOIN cohort c ON c.id = p.lead_id
),
keyed AS (
    SELECT o.*,
           CASE WHEN mql_at IS NULL THEN NULL ELSE coalesce(
               max(pos) FILTER (WHERE occurred_at <= mql_at) OVER (PARTITION BY lead_id), 1)
           END AS mql_pos,
           CASE WHEN handed_off_at IS NULL THEN NULL ELSE coalesce(
               max(pos) FILTER (WHERE occurred_at <= handed_off_at)
                   OVER (PARTITION BY lead_id), 1)
           END AS handoff_pos
    FROM ordered o
),
moments AS (
    SELECT k.*,
           (pos = 1)::int + coalesce((pos = mql_pos)::int, 0)
               + coalesce((pos = handoff_pos)::int, 0) AS key_count,
           n - 1 - (mql_pos IS NOT NULL AND mql_pos <> 1)::int
               - (handoff_pos IS NOT NULL AND handoff_pos <> 1
                  AND handoff_pos IS DISTINCT FROM mql_pos)::int AS others
    FROM keyed k
),
weighted AS (
    SELECT lead_id, pos, campaign_id, cents, reached_opportunity, won,
           ({weight})::numeric AS w
    FROM moments
),
split AS (
    SELECT *,
           div(1000000 * w, sum(w) OVER l) AS credit_floor,
           mod(1000000 * w, sum(w) OVER l) AS credit_rem,
           div(cents * w, sum(w) OVER l) AS cents_floor,
           mod(cents * w, sum(w) OVER l) AS cents_rem
    FROM weighted WINDOW l AS (PARTITION BY lead_id)
),
ranked AS (
    SELECT *,
           1000000 - sum(credit_floor) OVER l AS credit_short,
           cents - sum(cents_floor) OVER l AS cents_short,
           row_number() OVER (PARTITION BY lead_id ORDER BY credit_rem DESC, pos) AS credit_rank,
           row_number() OVER (PARTITION BY lead_id ORDER BY cents_rem DESC, pos) AS cents_rank
    FROM split WINDOW l AS (PARTITION BY lead_id)
),
parts AS (
    SELECT campaign_id, reached_opportunity, won,
           credit_floor + (credit_rank <= credit_short)::int AS credit,
           cents_floor + (cents_rank <= cents_short)::int AS money
    FROM ranked
)
SELECT campaign_id,
       sum(credit),
       sum(money) FILTER (WHERE reached_opportunity),
       sum(money) FILTER (WHERE won)
FROM parts
GROUP BY campaign_id
"""


def setup():
    import django

    django.setup()


def sql_attribution(model, params):
    """{campaign id: (millionths of leads, pipeline cents, won cents)} of the raw SQL."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(SQL.format(weight=WEIGHTS[model]), params)
        return {
            campaign: (int(credit or 0), int(pipeline or 0), int(won or 0))
            for campaign, credit, pipeline, won in cursor.fetchall()
            if credit or pipeline or won
        }


def app_attribution(model, filters):
    from leads.reporting import stats

    return {
        (row["campaign"].pk if row["campaign"] else None): (
            int(row["leads"].scaleb(6)),
            int(row["pipeline"].scaleb(2)),
            int(row["won_revenue"].scaleb(2)),
        )
        for row in stats.attribution(filters, model)["campaigns"]
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-seed", action="store_true")
    parser.add_argument("--no-rebuild", action="store_true", help="skip the timed rebuild")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median)")
    args = parser.parse_args()
    setup()
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from leadflow.dates import start_of_day
    from leads.demo.seeder import Seeder, reset_demo_data
    from leads.models import Lead, Touch
    from leads.reporting import attribution, definitions, stats

    if connection.vendor != "postgresql":
        raise SystemExit("Run this against PostgreSQL (set DATABASE_URL).")
    print(machine())
    if not args.no_seed and Lead.objects.count() != args.leads:
        started = time.perf_counter()
        reset_demo_data()
        Seeder(leads=args.leads, seed=args.seed).run()
        print(f"seeded {args.leads:,} leads in {time.perf_counter() - started:.0f} s")
    print(f"leads: {Lead.objects.count():,}  touches: {Touch.objects.count():,}")
    started = time.perf_counter()
    if not stats.refresh():
        stats.rebuild()
    print(f"statistics brought up to date: {time.perf_counter() - started:.1f} s")
    if not args.no_rebuild:
        started = time.perf_counter()
        stats.rebuild()
        print(f"full statistics rebuild: {time.perf_counter() - started:.1f} s")
        runs = [(dt.date(2000, 1, 1), timezone.localdate())]
        started = time.perf_counter()
        rows = stats._attribution_rows(runs)
        print(
            f"  of which the attribution rows alone: {time.perf_counter() - started:.1f} s"
            f" ({len(rows):,} rows, not written)"
        )

    today = timezone.localdate()
    print(f"\n{'model':<11} {'period':<9} {'app':>9} {'sql':>10} {'app/sql':>8}  same")
    mismatches = 0
    for model in attribution.MODEL_NAMES:
        for days in (90, 365):
            start_day = today - dt.timedelta(days=days - 1)
            filters = definitions.Filters(start=start_day, end=today)
            params = {
                "start": start_of_day(start_day),
                "end": start_of_day(today + dt.timedelta(days=1)),
            }
            app_ms = median_ms(lambda m=model, f=filters: app_attribution(m, f), args.repeat)
            sql_ms = median_ms(lambda m=model, p=params: sql_attribution(m, p), args.repeat)
            same = app_attribution(model, filters) == sql_attribution(model, params)
            mismatches += not same
            print(
                f"{model:<11} {days:>4} days {app_ms:>7.1f}ms {sql_ms:>8.0f}ms"
                f" {app_ms / sql_ms:>7.3f}x  {'yes' if same else 'NO'}"
            )
    if mismatches:
        raise SystemExit(f"{mismatches} model/period pairs differ between app and SQL")


if __name__ == "__main__":
    main()
