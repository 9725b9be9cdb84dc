"""The handoff dashboard at scale, next to hand-written SQL for the same numbers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadflow_bench \\
        .venv/bin/python benchmarks/dashboard.py --leads 1000000

Seeds N leads with seed_demo unless the database already holds exactly N (--no-seed skips
the check), makes sure the pre-aggregated statistics are current, then for the default
90-day view and for a whole year prints (median of 5 runs):

  page      GET /dashboard/ through Django (server time: refresh check, queries, template)
  sql-pre   hand-written SQL over the same pre-aggregated tables, run back to back
  sql-raw   hand-written SQL over the raw lead/handoff/activity/flag tables
  orm-raw   tests/reference.py, the raw reference definitions, through the ORM

and the ratios page / sql-pre and page / sql-raw. PostgreSQL only.
"""

import argparse
import time

from _common import machine, median_ms, setup

# Speed to lead, court time, attempts (SPEC §5; leads/reporting/definitions.py). An
# inquiry is a marketing-origin lead; the band bounds are the minutes of SPEED_BANDS.
INQUIRY = "origin = 'marketing'"
BANDS = (
    ("within_5_min", None, 5),
    ("within_1_h", 5, 60),
    ("within_24_h", 60, 1440),
    ("over_24_h", 1440, None),
)


def _band_counts(reached_at):
    """count(*) FILTER of each band of one reach, then of the inquiries that never reached it."""
    out = []
    for _name, low, high in BANDS:
        cond = [INQUIRY, f"{reached_at} IS NOT NULL"]
        if low is not None:
            cond.append(f"{reached_at} > created_at + make_interval(mins => {low})")
        if high is not None:
            cond.append(f"{reached_at} <= created_at + make_interval(mins => {high})")
        out.append(f"count(*) FILTER (WHERE {' AND '.join(cond)})")
    out.append(f"count(*) FILTER (WHERE {INQUIRY} AND {reached_at} IS NULL)")
    return ",\n           ".join(out)


# {side: (its stored minutes, the stages in which it holds the lead, its population)}
COURT = {
    "marketing": ("marketing_court_minutes", "('new', 'mql', 'rejected')", f"l.{INQUIRY}"),
    "sales": (
        "sales_court_minutes",
        "('handed_off', 'accepted', 'contacted', 'opportunity')",
        "l.handed_off_at IS NOT NULL",
    ),
}


def _court(side):
    """A side's active court minutes as of %(now)s (definitions.court_minutes)."""
    stored, stages, _population = COURT[side]
    return (
        f"CASE WHEN l.stage IN {stages} AND l.court_since IS NOT NULL AND l.court_since < %(now)s"
        f" THEN l.{stored} + floor(date_part('epoch', %(now)s - l.court_since) / 60)::integer"
        f" ELSE l.{stored} END"
    )


def _percentiles():
    """Every overall percentile of the cohort in one pass (percentiles.cohort_percentiles)."""
    spans = {
        "attempt": ("l.first_contact_at IS NOT NULL", "l.first_contact_at"),
        "connect": ("l.first_connect_at IS NOT NULL", "l.first_connect_at"),
    }
    out = []
    for reached, later in spans.values():
        for a, b in (
            (later, "l.created_at"),
            ("l.handed_off_at", "l.created_at"),
            (later, "l.handed_off_at"),
        ):
            for fraction in (0.5, 0.9):
                out.append(
                    f"percentile_cont({fraction}) WITHIN GROUP (ORDER BY date_part('epoch', {a} - {b}) / 60.0)"
                    f" FILTER (WHERE l.{INQUIRY} AND {reached})"
                )
    for side in ("marketing", "sales"):
        out.append(
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {_court(side)})"
            f" FILTER (WHERE {COURT[side][2]})"
        )
    out.append(
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY l.attempts_before_connect)"
        f" FILTER (WHERE l.{INQUIRY} AND l.first_connect_at IS NOT NULL)"
    )
    return ",\n       ".join(out)


COHORT = "l.created_at >= %(start)s AND l.created_at < %(end)s"
# The percentiles, per-group court medians and held-longest lists: the page reads them
# from the raw leads, so sql-pre and sql-raw both run these.
CLOCK_RAW_SQL = [
    f"SELECT {_percentiles()}\nFROM leads_lead l WHERE {COHORT}",
    f"""
    SELECT l.campaign_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY {_court("marketing")})
    FROM leads_lead l WHERE {COHORT} AND {COURT["marketing"][2]}
      AND l.campaign_id IS NOT NULL GROUP BY l.campaign_id
    """,
    f"""
    SELECT l.owner_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY {_court("sales")})
    FROM leads_lead l WHERE {COHORT} AND {COURT["sales"][2]}
      AND l.owner_id IS NOT NULL GROUP BY l.owner_id
    """,
    # The held-longest top 10 of each side: the ids from the cohort's index, then the rows.
    *(
        f"""
    SELECT l.*, {_court(side)} AS court_minutes, u.*, c.*
    FROM leads_lead l LEFT JOIN auth_user u ON u.id = l.owner_id
    LEFT JOIN campaigns_campaign c ON c.id = l.campaign_id
    WHERE l.id IN (
      SELECT l.id FROM leads_lead l
      WHERE {COHORT} AND {COURT[side][2]} AND l.stage IN {COURT[side][1]}
      ORDER BY {_court(side)} DESC, l.created_at, l.id LIMIT 10)
    ORDER BY court_minutes DESC, l.created_at, l.id
    """
        for side in ("marketing", "sales")
    ),
]

RAW_SQL = [
    # Funnel, contact in SLA, where the ball dropped, speed-to-lead bands and unreached.
    f"""
    SELECT count(*), count(mql_at), count(handed_off_at), count(accepted_at),
           count(first_contact_at), count(opportunity_at),
           count(*) FILTER (WHERE stage = 'won'), count(*) FILTER (WHERE stage = 'lost'),
           coalesce(sum(deal_value) FILTER (WHERE stage = 'won'), 0),
           count(*) FILTER (WHERE first_contact_at <= handed_off_at
                            + make_interval(mins => coalesce(first_sla_contact_minutes, %(sla)s))),
           count(*) FILTER (WHERE dropped AND rejected),
           count(*) FILTER (WHERE dropped AND NOT rejected AND (sd OR short)),
           count(*) FILTER (WHERE dropped AND NOT rejected AND NOT (sd OR short) AND stage = 'lost'),
           count(*) FILTER (WHERE dropped AND NOT rejected AND NOT sd AND stage <> 'lost'),
           {_band_counts("first_contact_at")},
           {_band_counts("first_connect_at")},
           count(*) FILTER (WHERE {INQUIRY} AND first_contact_at IS NOT NULL
                            AND first_connect_at IS NULL AND attempts_before_connect >= %(attempts)s)
    FROM (
      SELECT l.*, (l.handed_off_at IS NOT NULL AND l.stage <> 'won') AS dropped,
             (l.rejected_at IS NOT NULL AND (l.accepted_at IS NULL OR l.accepted_at < l.rejected_at)) AS rejected,
             EXISTS (SELECT 1 FROM leads_flag f WHERE f.lead_id = l.id
                     AND f.kind IN ('response_overdue', 'first_contact_overdue')) AS sd
             , (l.stage = 'lost' AND l.first_connect_at IS NULL
                AND l.attempts_before_connect < %(attempts)s) AS short
      FROM leads_lead l WHERE l.created_at >= %(start)s AND l.created_at < %(end)s
    ) x
    """,
    """
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_contact_at - handed_off_at))
    FROM leads_lead WHERE created_at >= %(start)s AND created_at < %(end)s
      AND first_contact_at IS NOT NULL AND handed_off_at IS NOT NULL
    """,
    # Per campaign (channels are sums of these) and per owner.
    """
    SELECT campaign_id, count(*), count(mql_at), count(handed_off_at), count(accepted_at),
           count(rejected_at), count(*) FILTER (WHERE stage = 'won'),
           coalesce(sum(deal_value) FILTER (WHERE stage = 'won'), 0)
    FROM leads_lead WHERE created_at >= %(start)s AND created_at < %(end)s GROUP BY campaign_id
    """,
    """
    SELECT owner_id, count(handed_off_at),
           count(*) FILTER (WHERE first_contact_at <= handed_off_at
                            + make_interval(mins => coalesce(first_sla_contact_minutes, %(sla)s))),
           count(accepted_at), count(*) FILTER (WHERE stage = 'won'), count(*) FILTER (WHERE stage = 'lost'),
           coalesce(sum(deal_value) FILTER (WHERE stage = 'won'), 0),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_contact_at - handed_off_at))
             FILTER (WHERE first_contact_at IS NOT NULL AND handed_off_at IS NOT NULL)
    FROM leads_lead WHERE created_at >= %(start)s AND created_at < %(end)s AND owner_id IS NOT NULL
    GROUP BY owner_id
    """,
    # Rejection reasons per campaign; lost reasons.
    """
    SELECT l.campaign_id, h.rejection_reason, count(*) FROM sales_handoff h
    JOIN leads_lead l ON l.id = h.lead_id
    WHERE h.outcome = 'rejected' AND l.created_at >= %(start)s AND l.created_at < %(end)s
    GROUP BY 1, 2
    """,
    """
    SELECT lost_reason, count(*) FROM leads_lead
    WHERE stage = 'lost' AND created_at >= %(start)s AND created_at < %(end)s GROUP BY 1
    """,
    # Flags per campaign (marketing) and per responsible rep (sales).
    """
    SELECT l.campaign_id, f.side, f.responsible_id, count(*), count(*) FILTER (WHERE f.resolved_at IS NULL)
    FROM leads_flag f JOIN leads_lead l ON l.id = f.lead_id
    WHERE l.created_at >= %(start)s AND l.created_at < %(end)s GROUP BY 1, 2, 3
    """,
    # Handoffs per rep, false rejections.
    """
    SELECT h.to_user_id, count(DISTINCT h.lead_id),
           count(DISTINCT h.lead_id) FILTER (WHERE h.outcome = 'accepted'),
           count(*) FILTER (WHERE h.outcome = 'rejected'),
           count(DISTINCT h.lead_id) FILTER (WHERE h.outcome = 'rejected' AND l.stage = 'won')
    FROM sales_handoff h JOIN leads_lead l ON l.id = h.lead_id
    WHERE h.to_user_id IS NOT NULL AND l.created_at >= %(start)s AND l.created_at < %(end)s
    GROUP BY 1
    """,
    # Follow-ups and contacts (all, logged late) per rep; objections per rep and per campaign.
    """
    SELECT a.user_id, count(*), count(*) FILTER (WHERE a.kind IN ('call', 'email', 'meeting')),
           count(*) FILTER (WHERE a.kind IN ('call', 'email', 'meeting') AND a.logged_late)
    FROM sales_activity a JOIN leads_lead l ON l.id = a.lead_id
    WHERE l.created_at >= %(start)s AND l.created_at < %(end)s
      AND NOT EXISTS (SELECT 1 FROM sales_activity c WHERE c.corrects_id = a.id) GROUP BY 1
    """,
    """
    SELECT l.campaign_id, a.user_id, o.tag, count(*) FROM sales_objection o
    JOIN sales_activity a ON a.id = o.activity_id JOIN leads_lead l ON l.id = o.lead_id
    WHERE l.created_at >= %(start)s AND l.created_at < %(end)s
      AND NOT EXISTS (SELECT 1 FROM sales_activity c WHERE c.corrects_id = a.id) GROUP BY 1, 2, 3
    """,
    # Weekly trend.
    """
    SELECT date_trunc('week', created_at AT TIME ZONE %(tz)s), count(*), count(mql_at),
           count(handed_off_at), count(accepted_at),
           count(*) FILTER (WHERE first_contact_at <= handed_off_at
                            + make_interval(mins => coalesce(first_sla_contact_minutes, %(sla)s))),
           count(*) FILTER (WHERE stage = 'won')
    FROM leads_lead WHERE created_at >= %(start)s AND created_at < %(end)s GROUP BY 1 ORDER BY 1
    """,
    *CLOCK_RAW_SQL,
]

PRE_SQL = [
    f"""
    SELECT sum(generated), sum(mql), sum(handed_off), sum(accepted), sum(contacted),
           sum(opportunity), sum(won), sum(lost), sum(won_value), sum(contacted_in_sla),
           sum(dropped_marketing), sum(dropped_sales), sum(dropped_market), sum(dropped_in_progress),
           sum(rej_not_a_fit), sum(rej_no_budget), sum(rej_bad_contact_data), sum(rej_duplicate),
           sum(rej_spam), sum(rej_not_interested), sum(lost_price), sum(lost_competitor),
           sum(lost_timing), sum(lost_no_decision), sum(lost_unresponsive), sum(lost_other),
           {
        ", ".join(
            f"sum(speed_{reach}_{band})"
            for reach in ("attempt", "connect")
            for band in (*(name for name, _low, _high in BANDS), "never")
        )
    },
           sum(unreached)
    FROM leads_cohortstats WHERE day BETWEEN %(start_day)s AND %(end_day)s
    """,
    RAW_SQL[1],  # the median is read from the raw leads by the page too
    """
    SELECT campaign_id, sum(generated), sum(mql), sum(handed_off), sum(accepted), sum(rejected),
           sum(won), sum(won_value), sum(rej_not_a_fit), sum(rej_no_budget),
           sum(rej_bad_contact_data), sum(rej_duplicate), sum(rej_spam), sum(rej_not_interested),
           sum(mflags_raised), sum(mflags_open), sum(obj_price), sum(obj_timing),
           sum(obj_competitor), sum(obj_no_need), sum(obj_authority), sum(obj_other)
    FROM leads_cohortstats WHERE day BETWEEN %(start_day)s AND %(end_day)s GROUP BY campaign_id
    """,
    """
    SELECT owner_id, sum(handed_off), sum(contacted_in_sla), sum(accepted), sum(won), sum(lost),
           sum(won_value)
    FROM leads_cohortstats WHERE day BETWEEN %(start_day)s AND %(end_day)s AND owner_id IS NOT NULL
    GROUP BY owner_id
    """,
    """
    SELECT owner_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_contact_at - handed_off_at))
    FROM leads_lead WHERE created_at >= %(start)s AND created_at < %(end)s AND owner_id IS NOT NULL
      AND first_contact_at IS NOT NULL AND handed_off_at IS NOT NULL GROUP BY owner_id
    """,
    """
    SELECT rep_id, sum(received), sum(accepted), sum(rejected), sum(false_rejections),
           sum(overturned), sum(follow_ups), sum(obj_price), sum(obj_timing), sum(obj_competitor),
           sum(obj_no_need), sum(obj_authority), sum(obj_other), sum(sflags_raised), sum(sflags_open)
    FROM leads_repstats WHERE day BETWEEN %(start_day)s AND %(end_day)s GROUP BY rep_id
    """,
    # Honesty: each rep's contacts and the ones logged late.
    """
    SELECT rep_id, sum(contacts), sum(contacts_late)
    FROM leads_repstats WHERE day BETWEEN %(start_day)s AND %(end_day)s GROUP BY rep_id
    HAVING sum(contacts) > 0
    """,
    """
    SELECT date_trunc('week', day), sum(generated), sum(mql), sum(handed_off), sum(accepted),
           sum(contacted_in_sla), sum(won)
    FROM leads_cohortstats WHERE day BETWEEN %(start_day)s AND %(end_day)s GROUP BY 1 ORDER BY 1
    """,
    # The false-rejection list (the page reads it from the raw tables).
    """
    SELECT h.id, l.id, l.last_name FROM sales_handoff h JOIN leads_lead l ON l.id = h.lead_id
    WHERE h.outcome = 'rejected' AND h.to_user_id IS NOT NULL AND l.stage = 'won'
      AND l.created_at >= %(start)s AND l.created_at < %(end)s
    ORDER BY l.closed_at DESC LIMIT 50
    """,
    *CLOCK_RAW_SQL,
]


def run_sql(statements, params):
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, params)
            cursor.fetchall()


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

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from leadflow.dates import start_of_day
    from leads.demo.seeder import Seeder, reset_demo_data
    from leads.models import Lead
    from leads.reporting import definitions, medians, stats
    from leads.sla.calendar import global_policy
    from tests import reference

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
    # After a migration that marks the statistics stale this is a full rebuild.
    print(f"statistics brought up to date: {time.perf_counter() - started:.1f} s")
    if not args.no_rebuild:
        started = time.perf_counter()
        stats.rebuild()
        print(f"full statistics rebuild: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    stats.refresh()
    print(f"refresh with nothing to do: {(time.perf_counter() - started) * 1000:.1f} ms")

    client = Client()
    manager = get_user_model().objects.get(username="manager")
    client.force_login(manager)
    today = timezone.localdate()
    policy = global_policy()
    sla, attempts = policy.first_contact_minutes, policy.unreached_attempts
    print(
        f"\n{'view':<10} {'page':>9} {'sql-pre':>9} {'sql-raw':>9} {'orm-raw':>9}  page/pre  page/raw"
    )
    for label, days in (("90 days", 90), ("365 days", 365)):
        start_day = today - dt.timedelta(days=days - 1)
        params = {
            "start": start_of_day(start_day),
            "end": start_of_day(today + dt.timedelta(days=1)),
            "start_day": start_day,
            "end_day": today,
            "sla": sla,
            "attempts": attempts,
            "tz": str(timezone.get_current_timezone()),
            "now": timezone.now(),
        }
        url = f"/dashboard/?start={start_day.isoformat()}&end={today.isoformat()}"
        filters = definitions.Filters(start=start_day, end=today)

        def page(url=url):
            response = client.get(url)
            assert response.status_code == 200

        def orm_raw(filters=filters):
            reference.funnel(filters)
            reference.marketing_scorecard(filters)
            reference.sales_scorecard(filters)
            reference.reasons(filters)
            reference.objections_by_campaign(filters)
            medians.false_rejections(filters, manager)
            reference.weekly_trend(filters)

        page_ms = median_ms(page, args.repeat)
        pre_ms = median_ms(lambda params=params: run_sql(PRE_SQL, params), args.repeat)
        raw_ms = median_ms(lambda params=params: run_sql(RAW_SQL, params), repeat=3)
        orm_ms = median_ms(orm_raw, repeat=3)
        print(
            f"{label:<10} {page_ms:>7.0f}ms {pre_ms:>7.0f}ms {raw_ms:>7.0f}ms {orm_ms:>7.0f}ms"
            f"  {page_ms / pre_ms:>7.2f}x {page_ms / raw_ms:>7.2f}x"
        )


if __name__ == "__main__":
    main()
