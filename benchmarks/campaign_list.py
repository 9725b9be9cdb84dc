"""The campaign list and a campaign's page at scale (issue 19: 1,224 ms at 1M leads before).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadflow_bench \\
        .venv/bin/python benchmarks/campaign_list.py

Reads the database as it is (seed it first with seed_demo; nothing is written but the
statistics' refresh). Reports the server time (median of 5 after a warm-up, through
Django's test client) and query count of /campaigns/ in every sort and of the biggest
campaign's page, then EXPLAIN ANALYZE of the list's two grouped queries: the page's
lifetime sums (cohortstats_campaign_sums_idx) and spend (spend_campaign_dates_idx).
"""

import argparse

from _common import client_for, machine, setup, timed_get


def explain(queryset):
    from django.db import connection

    if connection.vendor != "postgresql":
        return "(EXPLAIN ANALYZE needs PostgreSQL)"
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join("    " + row[0] for row in cursor.fetchall())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--user", default="marketer")
    parser.add_argument("--no-explain", action="store_true")
    args = parser.parse_args()
    setup(eager_tasks=True)
    from django.db.models import Count, Sum

    from campaigns.models import Campaign, SpendEntry
    from leads.models import CohortStats, Lead
    from leads.reporting import stats

    print(machine("sqlite"))
    print(
        f"leads: {Lead.objects.count():,}  campaigns: {Campaign.objects.count()}  "
        f"statistics rows: {CohortStats.objects.count():,}  "
        f"spend entries: {SpendEntry.objects.count():,}"
    )
    stats.refresh()  # the pages refresh too; this takes any backlog out of the timing
    client = client_for(args.user)
    biggest = (
        Lead.objects.exclude(campaign=None)
        .values("campaign")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("campaign", flat=True)
        .first()
    )
    pages = {
        "list (by start)": "/campaigns/",
        "list by name": "/campaigns/?sort=name",
        "list by leads": "/campaigns/?sort=generated",
        "list by won": "/campaigns/?sort=won",
        "list by spend": "/campaigns/?sort=spend",
        "list by cost/lead": "/campaigns/?sort=cpl",
        "list by cost/lead, reversed": "/campaigns/?sort=-cpl",
        "list, one channel": "/campaigns/?channel=search_ads",
    }
    if biggest:
        pages["biggest campaign page"] = f"/campaigns/{biggest}/"
        pages["biggest campaign, 90 days"] = (
            f"/campaigns/{biggest}/?start=2026-09-03&end=2026-12-01"
        )
    print("\n(median of 5, server time through Django's test client)")
    for name, url in pages.items():
        ms, queries, status = timed_get(client, url)
        print(f"  {name:<30} {ms:>8.1f} ms  {queries:>2} queries  HTTP {status}")
    if args.no_explain:
        return
    ids = list(Campaign.objects.order_by("-start_date", "name").values_list("pk", flat=True)[:100])
    sums = (
        CohortStats.objects.filter(campaign__in=ids)
        .values("campaign")
        .annotate(**{n: Sum(n) for n in stats.CAMPAIGN_LIST_SUMS})
        .order_by()
    )
    print("\nthe page's lifetime sums (stats.campaign_totals):")
    print(explain(sums))
    sorted_by_leads = (
        Campaign.objects.annotate(sort_value=stats.campaign_total("generated"))
        .order_by("-sort_value", "name")
        .values("pk")[:100]
    )
    print("\nsorting by leads (stats.campaign_total, one index range per campaign):")
    print(explain(sorted_by_leads))


if __name__ == "__main__":
    main()
