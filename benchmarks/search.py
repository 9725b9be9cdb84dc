"""The lead list's search at scale (issue 20 item 3), on the demo data and again after
100,000 leads that do not match have become the newest.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadflow_bench \\
        .venv/bin/python benchmarks/search.py

Needs a seeded database (``manage.py seed_demo``). For each search (``q=jansen``,
``q=fleur smit``, a phone number as digits and as a caller would type it) it reports the
server time through Django's test client (median of 5 after a warm-up, as
benchmarks/marketing.py), the queries per page, and EXPLAIN (ANALYZE, BUFFERS) of each
statement the page runs on the leads (the bounded walk, the matches, the count).

The 100,000 leads are inserted in a transaction that is rolled back at the end (their
statistics taken with ANALYZE inside it), so the database is left as it was; only the
lead id sequence moves on.
"""

import argparse
import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from marketing import client_for, setup, timed_get  # noqa: E402

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
        url = f"/leads/?{urlencode(params)}"
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


def insert_newest(n):
    """n leads that no search here matches, newer than every lead."""
    from django.db import connection

    from leads.models import Lead

    fields = [f for f in Lead._meta.concrete_fields if f.column != "id"]
    replaced = {
        "first_name": "'Nomatch'",
        "last_name": "'Bench'",
        "email": "'nomatch.' || g || '@bench.invalid'",
        "company": "'Bench BV'",
        "phone": "'+1 555 ' || lpad(g::text, 7, '0')",
        "phone_digits": "'1555' || lpad(g::text, 7, '0')",
        "created_at": "now() + g * interval '1 millisecond'",
        "stage": "'new'",
        "owner_id": "NULL",
    }
    columns = ", ".join(f.column for f in fields)
    values = ", ".join(replaced.get(f.column, f"t.{f.column}") for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO leads_lead ({columns}) SELECT {values} "
            f"FROM (SELECT * FROM leads_lead ORDER BY id LIMIT 1) t, generate_series(1, %s) g",
            [n],
        )
        cursor.execute("ANALYZE leads_lead")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--newest", type=int, default=NEWEST)
    args = parser.parse_args()
    setup()
    from django.db import connection, transaction

    from leads.models import Lead

    if connection.vendor != "postgresql":
        raise SystemExit("benchmarks/search.py measures PostgreSQL: set DATABASE_URL.")
    print(f"cores: {os.cpu_count()}  leads: {Lead.objects.count():,}")
    client = client_for("marketer")
    measure(client, "demo data")
    with transaction.atomic():
        insert_newest(args.newest)
        measure(client, f"after {args.newest:,} non-matching leads became the newest")
        transaction.set_rollback(True)
    print(f"\nrolled back: {Lead.objects.count():,} leads again")


if __name__ == "__main__":
    main()
