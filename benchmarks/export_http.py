"""The whole-list CSV export over HTTP, through gunicorn as shipped (gunicorn.conf.py).

Logs in as the demo manager, streams ``GET /leads/export.csv`` of every lead and checks
that the file arrived whole: HTTP's last chunk came (``http.client`` raises IncompleteRead
otherwise) and it has a row for every lead. With gunicorn's default sync worker and 30 s
timeout a million-lead export was cut at 694,060 rows while the client saw a 200; this
shows the shipped configuration delivers all of it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadflow_bench \\
        .venv/bin/python benchmarks/export_http.py [--password demo] [--sync-timeout 30]

``--sync-timeout N`` runs the old configuration instead (one sync worker, ``--timeout N``)
to show the failure it had. The database needs the demo users (``seed_demo``).
"""

import argparse
import http.client
import http.cookiejar
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from intake import free_port, manage, production_env, shell, wait_until_up  # noqa: E402

OUT = ROOT / "benchmarks" / "out"


def login(opener, base, username, password):
    page = opener.open(f"{base}/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token}
    ).encode()
    request = urllib.request.Request(
        f"{base}/accounts/login/", data=data, headers={"Referer": f"{base}/accounts/login/"}
    )
    response = opener.open(request)
    if "/accounts/login/" in response.geturl():
        raise SystemExit("login failed: are the demo users seeded with this password?")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--password", default="demo")
    parser.add_argument("--sync-timeout", type=int, help="old configuration: sync, --timeout N")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        parser.error("set DATABASE_URL to the seeded PostgreSQL database")
    env = production_env()
    manage(env, "collectstatic", "--noinput", "-v0")
    leads = int(shell(env, "from leads.models import Lead; print(Lead.objects.count())"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "1"]
    if args.sync_timeout:
        command += [
            "--worker-class",
            "sync",
            "--threads",
            "1",
            "--timeout",
            str(args.sync_timeout),
        ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    result = {"leads": leads, "config": "sync" if args.sync_timeout else "gunicorn.conf.py"}
    try:
        wait_until_up(f"{base}/accounts/login/")
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login(opener, base, "manager", args.password)
        started = time.monotonic()
        response = opener.open(f"{base}/leads/export.csv", timeout=600)
        result["status"] = response.status
        lines = size = 0
        try:
            while chunk := response.read(1 << 20):
                lines += chunk.count(b"\n")
                size += len(chunk)
            result["complete"] = True
        except http.client.IncompleteRead as exc:
            lines += exc.partial.count(b"\n")
            result["complete"] = False
        result.update(
            seconds=round(time.monotonic() - started, 1),
            rows=lines - 1,  # the header
            megabytes=round(size / 1e6, 1),
            cores=os.cpu_count(),
        )
    finally:
        server.terminate()
        server.wait(30)
    result["every_lead"] = result.get("rows") == leads
    print(json.dumps(result, indent=2))
    OUT.mkdir(exist_ok=True)
    (OUT / f"export_http-{result['config']}.json").write_text(json.dumps(result, indent=2))
    if not (result.get("complete") and result["every_lead"]):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
