"""The lead list's search at scale (issue 20 item 3), on the demo data and again after
100,000 leads that do not match have become the newest.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadflow_bench \\
        .venv/bin/python benchmarks/search.py

Needs a seeded database (``manage.py seed_demo``). For each search (``q=jansen``,
``q=fleur smit``, a phone number as digits and as a caller would type it) it reports the
server time through Django's test client (median of 5 after a warm-up, as
the other page benchmarks), the queries per page, and EXPLAIN (ANALYZE, BUFFERS) of each
statement the page runs on the leads (the bounded walk, the matches, the count).

The 100,000 leads are committed and the table vacuumed and analyzed, as after an import
and autovacuum; they are deleted again at the end (also after an error), and the table
vacuumed and analyzed, so the database holds what it held before (only the lead id
sequence has moved on).
"""

import argparse
import json
import os
import re

from _common import client_for, setup, timed_get

NEWEST = 100_000


def searches():
    from leads.models import Lead

    phone = (
        Lead.objects.filter(last_name__icontains="jansen")
        .exclude(phone="")
        .values_list("phone", flat=True)
        .first()
    )
    digits = re.sub(r"\D", "", phone)
    national = f"0{digits[2:3]}-{digits[3:]}" if digits.startswith("31") else digits
    return {
        "no search (baseline)": {},
        "q=jansen": {"q": "jansen"},
        "q=fleur smit": {"q": "fleur smit"},
        f"phone {digits[-8:]}": {"q": digits[-8:]},
        f"phone {national}": {"q": national},
    }


def explain(sql):
    """(ms, plan's top node, shared buffers hit/read) of one statement."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
        (plan,) = cursor.fetchone()
    if isinstance(plan, str):
        plan = json.loads(plan)
    top = plan[0]["Plan"]
    nodes, stack = [], [top]
    while stack:
        node = stack.pop()
        nodes.append(
            node["Node Type"] + (f" on {node['Index Name']}" if "Index Name" in node else "")
        )
        stack.extend(node.get("Plans", []))
    return {
        "ms": round(plan[0]["Execution Time"], 1),
        "hit": top.get("Shared Hit Blocks"),
        "read": top.get("Shared Read Blocks"),
        "nodes": ", ".join(dict.fromkeys(n for n in nodes if "Scan" in n or "Bitmap" in n)),
    }


def measure(client, label):
    from urllib.parse import urlencode

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    print(f"\n{label} (median of 5, server time through Django's test client):")
    for name, params in searches().items():
        url = f"/leads/?{urlencode(params)}" if params else "/leads/"
        ms, queries, status = timed_get(client, url)
        print(f"  {name:<22} {ms:>8.1f} ms  {queries:>2} queries  HTTP {status}")
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        for query in ctx.captured_queries:
            sql = query["sql"]
            if "leads_lead" in sql and "LIKE" in sql and "campaigns_campaign" not in sql[:200]:
                summary = explain(sql)
                kind = (
                    "matches"
                    if "MATERIALIZED" in sql and "ARRAY" in sql
                    else ("count" if "count(*)" in sql else "walk/rows")
                )
                print(
                    f"      {kind:<10} {summary['ms']:>7.1f} ms  buffers hit {summary['hit']} "
                    f"read {summary['read']}  {summary['nodes']}"
                )


def vacuum():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE leads_lead")


def insert_newest(n):
    """n leads that no search here matches, newer than every lead; returns the id above
    which they lie."""
    from django.db import connection, transaction

    from leads.models import Lead

    first = (Lead.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    fields = [f for f in Lead._meta.concrete_fields if f.column != "id"]
    replaced = {
        "first_name": "'Nomatch'",
        "last_name": "'Bench'",
        "email": "'nomatch.' || g || '@bench.invalid'",
        "company": "'Bench BV'",
        "phone": "'+1 555 ' || lpad(g::text, 7, '0')",
        "created_at": "now() + g * interval '1 millisecond'",
        "stage": "'new'",
        "owner_id": "NULL",
    }
    columns = ", ".join(f.column for f in fields)
    values = ", ".join(replaced.get(f.column, f"t.{f.column}") for f in fields)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO leads_lead ({columns}) SELECT {values} "
            f"FROM (SELECT * FROM leads_lead ORDER BY id LIMIT 1) t, generate_series(1, %s) g",
            [n],
        )
    return first


def remove_from(first):
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM leads_lead WHERE id >= %s AND email LIKE 'nomatch.%%@bench.invalid'",
            [first],
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--newest", type=int, default=NEWEST)
    args = parser.parse_args()
    setup()
    from django.db import connection

    from leads.models import Lead

    if connection.vendor != "postgresql":
        raise SystemExit("benchmarks/search.py measures PostgreSQL: set DATABASE_URL.")
    print(f"cores: {os.cpu_count()}  leads: {Lead.objects.count():,}")
    client = client_for("marketer")
    vacuum()  # as autovacuum leaves it: GIN pending lists merged, statistics fresh
    measure(client, "demo data")
    first = insert_newest(args.newest)
    try:
        vacuum()
        measure(client, f"after {args.newest:,} non-matching leads became the newest")
    finally:
        remove_from(first)
        vacuum()
    print(f"\nremoved them again: {Lead.objects.count():,} leads")


if __name__ == "__main__":
    main()
