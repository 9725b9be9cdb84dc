"""Marketing workspace at scale: lead list pages, CSV export and CSV import.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadflow_bench \\
        .venv/bin/python benchmarks/marketing.py --leads 1000000

Seeds N leads with seed_demo (skip with --no-seed when the database already has them),
then reports, each step in a fresh process so memory figures are its own:
  list    server time and query count of /leads/ pages (first, deep by cursor, filtered)
  campaigns  server time and query count of /campaigns/ (every sort) and the biggest
          campaign's page, both read from the dashboard's statistics
  export  rows per second and peak RSS of /leads/export.csv over every lead
  import  rows per second of a 100k-row Salesforce-style CSV (validation and run)

The import leaves its 90,000 new leads (and touches on 10,000 existing ones) in the
database: the stage log is append-only, so they cannot be taken out again. Run it last,
or on a throwaway database (``--only list,export`` skips it).
"""

import argparse
import csv
import io
import json
import resource
import subprocess
import sys
import time

from _common import ROOT, client_for, machine, setup, timed_get


def step_seed(leads, seed):
    setup()
    from leads.demo.seeder import Seeder, reset_demo_data
    from leads.models import Lead

    if Lead.objects.count() == leads:
        return {"seed": "kept existing data"}
    start = time.perf_counter()
    reset_demo_data()
    Seeder(leads=leads, seed=seed).run()
    return {"seed_seconds": round(time.perf_counter() - start, 1)}


def step_list():
    setup()
    from leads.filters import SORTS, encode_cursor
    from leads.models import Lead

    client = client_for("marketer")
    total = Lead.objects.count()
    deep = Lead.objects.order_by(*SORTS["-created"])[int(total * 0.9) : int(total * 0.9) + 1]
    cursor = encode_cursor(deep[0], SORTS["-created"], "next")
    campaign = Lead.objects.exclude(campaign=None).values_list("campaign", flat=True).first()
    pages = {
        "first page": "/leads/",
        "deep page (90%)": f"/leads/?cursor={cursor}",
        "stage=won": "/leads/?stage=won",
        "campaign": f"/leads/?campaign={campaign}",
        "search 'jansen'": "/leads/?q=jansen",
        "open flag stalled": "/leads/?flag=stalled",
        "sort by name": "/leads/?sort=name",
        "created range": "/leads/?created_from=2026-06-01&created_to=2026-06-30",
    }
    out = {}
    for name, url in pages.items():
        ms, queries, status = timed_get(client, url)
        out[name] = {"ms": round(ms, 1), "queries": queries, "status": status}
    return out


def step_campaigns():
    setup()
    from django.db.models import Count

    from leads.models import Lead
    from leads.reporting import stats

    stats.refresh()  # the pages refresh too; this takes any backlog out of the timing
    client = client_for("marketer")
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
        "list by leads": "/campaigns/?sort=generated",
        "list by won": "/campaigns/?sort=won",
        "list by cost/lead": "/campaigns/?sort=cpl",
        "biggest campaign page": f"/campaigns/{biggest}/",
    }
    out = {}
    for name, url in pages.items():
        ms, queries, status = timed_get(client, url)
        out[name] = {"ms": round(ms, 1), "queries": queries, "status": status}
    return out


def step_managers():
    """The pages a manager lands on: the team page (home after login) and the jobs page."""
    setup()
    client = client_for("manager")
    out = {}
    for name, url in {"team page (home)": "/sales/team/", "jobs page": "/leads/jobs/"}.items():
        ms, queries, status = timed_get(client, url)
        out[name] = {"ms": round(ms, 1), "queries": queries, "status": status}
    return out


def step_export():
    setup()
    from leads.models import Lead

    client = client_for("marketer")
    rows = Lead.objects.count()
    start = time.perf_counter()
    response = client.get("/leads/export.csv")
    size = sum(len(chunk) for chunk in response.streaming_content)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": rows,
        "seconds": round(seconds, 1),
        "rows_per_second": round(rows / seconds),
        "megabytes": round(size / 1e6, 1),
        "peak_rss_mb": round(peak_mb),
    }


def make_csv(rows):
    from campaigns.models import Campaign
    from leads.models import Lead

    names = list(Campaign.objects.values_list("name", flat=True)[:5])
    existing = list(Lead.objects.open().values_list("email", flat=True)[: rows // 10])
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(
        ["First Name", "Last Name", "Email", "Company", "Phone", "Title", "Lead Source", "Country"]
    )
    for i in range(rows):
        # One row in ten is a known person (a touch), the rest are new.
        email = (
            existing[i // 10] if i % 10 == 0 and i // 10 < len(existing) else f"bench{i}@x.test"
        )
        writer.writerow(
            [f"First{i}", f"Last{i}", email, f"Company {i % 500}", "+31 6 1234", "CEO",
             names[i % len(names)], "Netherlands"]
        )  # fmt: skip
    return buffer.getvalue().encode("utf-8")


def step_import(rows):
    setup()
    from django.contrib.auth import get_user_model

    from leads.imports import services as imports
    from leads.models import ImportJob

    raw = make_csv(rows)
    marketer = get_user_model().objects.get(username="marketer")
    job = imports.import_create(by=marketer, filename="bench.csv", raw=raw)
    start = time.perf_counter()
    imports.import_set_mapping(job=job, by=marketer, mapping=job.mapping)  # validates (eager)
    validated = time.perf_counter() - start
    job.refresh_from_db()
    start = time.perf_counter()
    imports.import_confirm(job=job, by=marketer, skip_invalid=True)  # runs (eager)
    ran = time.perf_counter() - start
    job = ImportJob.objects.get(pk=job.pk)
    return {
        "rows": rows,
        "status": job.status,
        "created": job.created_count,
        "touched": job.touched_count,
        "validate_seconds": round(validated, 1),
        "import_seconds": round(ran, 1),
        "import_rows_per_second": round(rows / ran),
        "end_to_end_rows_per_second": round(rows / (validated + ran)),
    }


def run_step(*args):
    result = subprocess.run(
        [sys.executable, __file__, "--step", *args], capture_output=True, text=True, cwd=ROOT
    )
    if result.returncode:
        sys.stderr.write(result.stderr)
        raise SystemExit(result.returncode)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--no-seed", action="store_true")
    parser.add_argument(
        "--only",
        default="list,campaigns,managers,export,import",
        help="comma-separated steps to run (default: list,campaigns,managers,export,import)",
    )
    parser.add_argument("--step", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        name, *rest = args.step
        result = {
            "seed": lambda: step_seed(int(rest[0]), int(rest[1])),
            "list": step_list,
            "campaigns": step_campaigns,
            "managers": step_managers,
            "export": step_export,
            "import": lambda: step_import(int(rest[0])),
        }[name]()
        print(json.dumps(result))
        return
    print(machine("sqlite (default)"))
    if not args.no_seed:
        print("seed:", run_step("seed", str(args.leads), str(args.seed)))
    steps = set(args.only.split(","))
    if "list" in steps:
        print("\nlead list (median of 5, server time through Django's test client):")
    for name, row in (run_step("list") if "list" in steps else {}).items():
        print(
            f"  {name:<20} {row['ms']:>8.1f} ms  {row['queries']:>2} queries  HTTP {row['status']}"
        )
    if "campaigns" in steps:
        print("\ncampaigns (median of 5, server time through Django's test client):")
    for name, row in (run_step("campaigns") if "campaigns" in steps else {}).items():
        print(
            f"  {name:<22} {row['ms']:>8.1f} ms  {row['queries']:>2} queries  HTTP {row['status']}"
        )
    if "managers" in steps:
        print("\nmanagers' pages (median of 5, server time through Django's test client):")
    for name, row in (run_step("managers") if "managers" in steps else {}).items():
        print(
            f"  {name:<22} {row['ms']:>8.1f} ms  {row['queries']:>2} queries  HTTP {row['status']}"
        )
    if "export" in steps:
        print("\nexport:", run_step("export"))
    if "import" in steps:
        print("\nimport:", run_step("import", str(args.import_rows)))


if __name__ == "__main__":
    main()
