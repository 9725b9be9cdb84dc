"""Benchmark of the sweep (leads/sweep/flags.py): first sweep, steady state, statement count.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadflow_bench \\
        .venv/bin/python benchmarks/sweep.py --leads 1000000

For each size (by default N/10 and N) it seeds that many demo leads with
``seed_demo --reset`` (this REPLACES the leads and campaigns of that database), deletes
the open flags the seed wrote so the first sweep has to raise them all, and then times:

- the first sweep (a full sweep raising every flag whose deadline has passed),
- the steady state with nothing new to raise or resolve (the median of --repeat runs),
  both as the incremental sweep that runs every SWEEP_INTERVAL_SECONDS and as the full
  sweep that runs every SWEEP_FULL_INTERVAL_SECONDS,
- the statements each issues (CaptureQueriesContext): the same at every size.

Times are measured inside the process around leads.sweep.flags.sweep_flags(), not counting
process start. The database is VACUUM ANALYZEd (PostgreSQL) or ANALYZEd (SQLite) before
timing, as autovacuum would after a bulk load. All sweeps use one ``now``, a little more
than leads.sweep.flags.INCREMENTAL_OVERLAP after the seed, so the seeded leads count as settled rather
than "just changed" (as they would be in production a quarter of an hour later).
"""

import argparse
import datetime as dt
import os
import platform
import statistics
import time

import _common  # noqa: F401  (the project on the path, the settings module)
import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from leads.models import Flag, Lead  # noqa: E402
from leads.sweep.flags import INCREMENTAL_OVERLAP, sweep_flags  # noqa: E402


def analyze():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in ("leads_lead", "leads_flag", "campaigns_campaign"):
                cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            cursor.execute("ANALYZE")


def timed_sweep(now, full):
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = sweep_flags(now, full=full)
        elapsed = time.perf_counter() - started
    return elapsed, result, len(queries.captured_queries)


def measure(size, *, seed, repeat, reseed):
    if reseed:
        started = time.perf_counter()
        with open(os.devnull, "w") as devnull:
            call_command(
                "seed_demo", leads=size, seed=seed, reset=True, force=True, stdout=devnull
            )
        print(f"  seeded {size:,} leads in {time.perf_counter() - started:.1f} s", flush=True)
    leads = Lead.objects.count()
    # The seed wrote the flags a sweep would have raised; without them the first sweep
    # has to raise them all.
    Flag.objects.filter(resolved_at__isnull=True).delete()
    analyze()
    now = timezone.now() + INCREMENTAL_OVERLAP + dt.timedelta(minutes=1)
    first, result, first_statements = timed_sweep(now, full=True)
    analyze()
    incremental = [timed_sweep(now, full=False) for _ in range(repeat)]
    full = [timed_sweep(now, full=True) for _ in range(repeat)]
    changed = sum(r.total_raised + r.total_resolved for _, r, _ in incremental + full)
    return {
        "leads": leads,
        "first sweep s": first,
        "raised": result.total_raised,
        "steady incr. s": statistics.median(run[0] for run in incremental),
        "steady full s": statistics.median(run[0] for run in full),
        "steady changes": changed,
        "stmts first": first_statements,
        "stmts incr.": incremental[0][2],
        "stmts full": full[0][2],
    }


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=10_000, help="largest size (default 10,000)")
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        help="comma-separated sizes (default: N/10 and N)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5, help="steady-state runs (median)")
    parser.add_argument(
        "--no-seed", action="store_true", help="use the leads already in the database (one size)"
    )
    args = parser.parse_args()
    sizes = (
        [0] if args.no_seed else (args.sizes or sorted({max(args.leads // 10, 100), args.leads}))
    )
    db = connection.settings_dict
    print(
        f"database: {connection.vendor} {db['NAME']}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    rows = []
    for size in sizes:
        print(f"size {size or 'existing'}:", flush=True)
        rows.append(measure(size, seed=args.seed, repeat=args.repeat, reseed=not args.no_seed))
    columns = list(rows[0])
    widths = [max(len(c), 10) for c in columns]
    print()
    print(" | ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        cells = [f"{v:.3f}" if isinstance(v, float) else f"{v:,}" for v in row.values()]
        print(" | ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))
    counts = {(row["stmts first"], row["stmts incr."], row["stmts full"]) for row in rows}
    print()
    print("statement count independent of size:", "yes" if len(counts) == 1 else f"NO {counts}")


if __name__ == "__main__":
    main()
