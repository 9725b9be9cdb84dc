"""Timing of the API's lead list, GET /api/v1/leads/: the first page and deep pages reached
by keyset cursor, with N seeded leads.

    createdb -h 127.0.0.1 -U postgres leadflow_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadflow_bench \\
        .venv/bin/python benchmarks/api_list.py --leads 20000 --seed-data

The API is called in-process through Django's test client with a personal token (no
network: the figures are the app's and the database's), as the manager (every lead) and
as rep1 (their own leads plus the queue). Each case runs --repeat times after one warm-up;
the median and the worst are printed in milliseconds with the SQL queries per request.
A deep page's cursor is made from the row at that depth (found once with OFFSET, untimed),
exactly the cursor a client holds after paging that far. Writes JSON under benchmarks/out/.
"""

import argparse
import json
import os
import time

import _common

# Production settings: DEBUG off (no query log kept in memory), plain HTTP for the client.
_common.in_process_environment(debug="0")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from leadflow.services import api_token_create  # noqa: E402
from leads.filters import SORTS, encode_cursor  # noqa: E402
from leads.models import Lead  # noqa: E402

PAGE = 50


def cursor_at(user, sort, depth, **filters):
    """The cursor a client holds after paging to ``depth`` rows (None when too shallow)."""
    ordering = SORTS[sort]
    qs = Lead.objects.for_user(user).filter(**filters).order_by(*ordering)
    row = qs[depth - 1 : depth].first()
    return encode_cursor(row, ordering, "next") if row else None


def measure(client, params, repeat):
    run = _common.server_time(client, "/api/v1/leads/", params, repeat)
    response = run.warm_up  # the correctness check
    if response.status_code != 200:
        raise SystemExit(f"{params}: HTTP {response.status_code} {response.content[:200]!r}")
    return {
        "rows": len(response.json()["results"]),
        "median_ms": round(run.median_ms, 1),
        "worst_ms": round(run.worst_ms, 1),
        "queries": len(run.queries),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=20000, help="leads to seed (--seed-data)")
    parser.add_argument("--seed-data", action="store_true", help="reset and seed the database")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per case")
    args = parser.parse_args()

    if args.seed_data:
        call_command("seed_demo", leads=args.leads, seed=1, reset=True, force=True)
    total = Lead.objects.count()
    if not total:
        raise SystemExit("No leads: run with --seed-data (and a database of its own).")
    User = get_user_model()
    manager, rep = User.objects.get(username="manager"), User.objects.get(username="rep1")
    clients = {}
    for user in (manager, rep):
        clients[user] = Client(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[1]}")
    rep_total = Lead.objects.for_user(rep).count()
    handed_off = Lead.objects.filter(stage="handed_off").count()

    cases = [
        ("manager", "first page, newest first", manager, {}),
        (
            "manager",
            "deep page at 50% (cursor)",
            manager,
            {"cursor": cursor_at(manager, "-created", total // 2)},
        ),
        (
            "manager",
            "deep page at 99% (cursor)",
            manager,
            {"cursor": cursor_at(manager, "-created", max(1, total * 99 // 100))},
        ),
        (
            "manager",
            "by last name, deep page at 50%",
            manager,
            {"sort": "name", "cursor": cursor_at(manager, "name", total // 2)},
        ),
        ("manager", "stage=handed_off, first page", manager, {"stage": "handed_off"}),
        (
            "manager",
            "stage=handed_off, deep page at 50%",
            manager,
            {
                "stage": "handed_off",
                "cursor": cursor_at(
                    manager, "-created", max(1, handed_off // 2), stage="handed_off"
                ),
            },
        ),
        ("manager", "search q=smit, first page", manager, {"q": "smit"}),
        ("manager", "open flag (any), first page", manager, {"flag": "any"}),
        ("rep1", "first page of own scope", rep, {}),
        (
            "rep1",
            "deep page at 50% of own scope",
            rep,
            {"cursor": cursor_at(rep, "-created", max(1, rep_total // 2))},
        ),
    ]
    results = []
    print(
        f"{total:,} leads ({rep_total:,} in rep1's scope); {os.cpu_count()} cores; "
        f"{connection.vendor}; page size {PAGE}; median of {args.repeat}"
    )
    print(f"{'as':8} {'case':40} {'rows':>4} {'median ms':>10} {'worst ms':>9} {'queries':>7}")
    for who, name, user, params in cases:
        params = {k: v for k, v in params.items() if v is not None}
        result = measure(clients[user], params, args.repeat)
        results.append({"as": who, "case": name, **result})
        print(
            f"{who:8} {name:40} {result['rows']:>4} {result['median_ms']:>10} "
            f"{result['worst_ms']:>9} {result['queries']:>7}"
        )
    _common.OUT.mkdir(parents=True, exist_ok=True)
    (_common.OUT / f"api_list-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps(
            {
                "leads": total,
                "cores": os.cpu_count(),
                "database": connection.vendor,
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
