"""Public intake throughput: gunicorn (2 workers) on PostgreSQL, loaded by wrk from a second
process over loopback, every request a JSON post with a unique email (so each one creates a
lead, a touch and a stage change, the expensive path).

    apt-get install -y wrk
    createdb -h 127.0.0.1 -U postgres leadflow_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadflow_bench \\
        .venv/bin/python benchmarks/intake.py --duration 10 --connections 8 [--sync]

The load is bounded (at most 120 s, 64 connections) and only goes to 127.0.0.1. The rate
limits are switched off for the run (one client address, one key); everything else is the
production configuration (DEBUG off). Use a database of its own: the leads stay (the stage
log is append-only); ``--fresh`` empties it first. Prints the figures and writes them as
JSON under benchmarks/out/.

On Linux it also says where the machine's CPU went while wrk ran, per answered post: the
gunicorn processes, every PostgreSQL process (its backends, WAL writer, checkpointer and
autovacuum: run it on an otherwise idle server) and wrk itself, read from /proc. The
cores divided by their sum is the most posts per second this machine could answer at that
cost, whatever the concurrency.
"""

import argparse
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

LUA = r"""
-- One JSON intake post per request, each with an email never used before.
local counter = 0
local run = "x"
local id = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  run = args[1] or run
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"first_name":"Bench","last_name":"Lead %d","email":"bench-%s-%d-%d@example.com",' ..
    '"company":"Load Test B.V.","message":"wrk","utm_source":"wrk","consent":true}',
    counter, run, id, counter)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""


def production_env(**extra):
    """The production configuration (DEBUG off) over plain HTTP on loopback."""
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "benchmark-only-" + uuid.uuid4().hex,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "memory://"),
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env, *args, capture=False):
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        text=True,
        capture_output=capture,
    )
    return result.stdout if capture else None


def shell(env, code):
    return manage(env, "shell", "-v0", "-c", code, capture=True).strip()


def wait_until_up(url, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
        except urllib.error.HTTPError:
            return  # 405 for GET: the server answers
        except OSError:
            time.sleep(0.2)
        else:
            return
    raise SystemExit(f"gunicorn did not answer at {url} within {timeout} s")


def _cpu_seconds(pid):
    """User plus system CPU seconds of one process so far (Linux /proc), or 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processes():
    """{pid: (command name, parent pid)} of every process, from /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    text = stat.read()
            except OSError:
                continue
            name = text[text.index("(") + 1 : text.rindex(")")]
            found[int(entry)] = (name, int(text.rsplit(")", 1)[1].split()[1]))
    return found


def cpu_snapshot(server_pid):
    """CPU seconds so far of gunicorn (its master and workers) and of PostgreSQL (every
    process named postgres), or None where /proc is missing (not Linux)."""
    if not os.path.isdir("/proc"):
        return None
    processes = _processes()
    gunicorn = {server_pid} | {pid for pid, (_n, ppid) in processes.items() if ppid == server_pid}
    postgres = {pid for pid, (name, _p) in processes.items() if name.startswith("postgres")}
    return {
        "gunicorn": sum(_cpu_seconds(pid) for pid in gunicorn),
        "postgresql": sum(_cpu_seconds(pid) for pid in postgres),
    }


def cpu_per_post(before, after, wrk_seconds, posts):
    """Milliseconds of CPU per answered post by gunicorn, PostgreSQL and wrk, their total,
    and the posts per second the machine's cores could answer at that cost."""
    if before is None or after is None or not posts:
        return None
    spent = {name: after[name] - before[name] for name in before} | {"wrk": wrk_seconds}
    per_post = {name: round(1000 * seconds / posts, 2) for name, seconds in spent.items()}
    per_post["total"] = round(sum(1000 * seconds / posts for seconds in spent.values()), 2)
    per_post["cpu_bound_posts_per_s"] = round(1000 * os.cpu_count() / per_post["total"], 1)
    return per_post


def parse_wrk(output):
    def number(pattern, default=0.0):
        match = re.search(pattern, output)
        return float(match.group(1)) if match else default

    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    latency = {
        f"p{p}": value
        for p, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", output, re.MULTILINE)
    }
    return {
        "requests": int(number(r"(\d+) requests in")),
        "requests_per_s": number(r"Requests/sec:\s+([\d.]+)"),
        "non_2xx": int(number(r"Non-2xx or 3xx responses: (\d+)")),
        "socket_errors": sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        "latency": latency,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load (max 120)")
    parser.add_argument("--connections", type=int, default=8, help="open connections (max 64)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--threads", type=int, default=4, help="threads per worker (4, as gunicorn.conf.py)"
    )
    parser.add_argument(
        "--sync",
        action="store_true",
        help="sync workers (--worker-class sync --threads 1), as issue 20's aim is measured",
    )
    parser.add_argument("--fresh", action="store_true", help="empty the database first")
    parser.add_argument(
        "--unknown-key",
        action="store_true",
        help="post to a key no campaign has: the cost of LeadFlow's cheapest answer (a 404 "
        "after the campaign lookup), every answer must be that 404",
    )
    parser.add_argument("--allow-sqlite", action="store_true", help="for a quick try only")
    args = parser.parse_args()
    if not 1 <= args.duration <= 120 or not 1 <= args.connections <= 64:
        parser.error("keep the load bounded: --duration 1..120, --connections 1..64")
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres") and not args.allow_sqlite:
        parser.error("set DATABASE_URL to a PostgreSQL database of its own (see the docstring)")
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    env = production_env(INTAKE_RATE_PER_IP="0", INTAKE_RATE_PER_KEY="0")
    if args.fresh:
        manage(env, "flush", "--noinput")
    manage(env, "migrate", "--noinput", "-v0")
    key = shell(
        env,
        "from campaigns.models import Campaign;"
        "c = Campaign.objects.filter(name='Intake benchmark').first() or "
        "Campaign.objects.create(name='Intake benchmark', channel='other', "
        "start_date='2026-01-01');"
        "print(c.intake_key)",
    ).splitlines()[-1]
    run = uuid.uuid4().hex[:8]
    count_code = (
        "from leads.models import Lead, Touch;"
        f"print(Lead.objects.filter(email__startswith='bench-{run}-').count(),"
        f" Touch.objects.filter(lead__email__startswith='bench-{run}-').count())"
    )

    port = free_port()
    if args.unknown_key:
        key = f"no-such-key-{run}"
    url = f"http://127.0.0.1:{port}/intake/{key}/"
    # A sync worker needs --threads 1 too (gunicorn.conf.py: with more it runs gthread).
    threads = 1 if args.sync else args.threads
    worker_class = ["--worker-class", "sync"] if args.sync else []
    server = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(threads),
            *worker_class,
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,  # gunicorn.conf.py's access log
    )
    try:
        wait_until_up(url)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA)
        cpu_before = cpu_snapshot(server.pid)
        wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        result = subprocess.run(
            [
                wrk,
                "-t1",
                f"-c{args.connections}",
                f"-d{args.duration}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                script.name,
                url,
                "--",
                run,
            ],
            capture_output=True,
            text=True,
            timeout=args.duration + 60,
        )
        elapsed = time.monotonic() - started
        cpu_after = cpu_snapshot(server.pid)
        wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        os.unlink(script.name)
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(result.stdout)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        raise SystemExit("wrk failed")
    stats = parse_wrk(result.stdout)
    leads, touches = (int(n) for n in shell(env, count_code).split()[-2:])
    summary = {
        "cores": os.cpu_count(),
        "gunicorn_workers": args.workers,
        "worker_class": "sync" if args.sync else "gthread",
        "threads_per_worker": threads,
        "connections": args.connections,
        "duration_s": args.duration,
        "database": database_url.split("://", 1)[0],
        **stats,
        "leads_created": leads,
        "touches_created": touches,
        "leads_per_s": round(leads / args.duration, 1),
        # With --unknown-key every answer is the 404 and any other one is an error.
        "errors": (
            abs(stats["non_2xx"] - stats["requests"]) if args.unknown_key else stats["non_2xx"]
        )
        + stats["socket_errors"],
        "wall_s": round(elapsed, 1),
        # Per lead made: each answered post made one (those in flight at the end too).
        "cpu_ms_per_post": cpu_per_post(
            cpu_before,
            cpu_after,
            (wrk_after.ru_utime + wrk_after.ru_stime)
            - (wrk_before.ru_utime + wrk_before.ru_stime),
            stats["requests"] if args.unknown_key else leads,
        ),
    }
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"intake-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps(summary, indent=2)
    )
    print(json.dumps(summary, indent=2))
    # Every answered request made one lead; wrk does not count the (at most one per
    # connection) requests still in flight when it stops, the server finishes them.
    made = 0 if args.unknown_key else stats["requests"]
    if summary["errors"] or not 0 <= leads - made <= args.connections:
        raise SystemExit(
            f"errors: {summary['errors']}, leads {leads} for {stats['requests']} requests"
        )


if __name__ == "__main__":
    main()
