"""Speed to rep (issue 18's "done when"): a web-form post to the public intake of a campaign
that routes its hand-raisers to sales at once, through gunicorn, with a Celery worker
running, until the rep's notification exists and its e-mail task has run (its outbox
message is done). Each post is timed from just before it is sent.

    createdb -h 127.0.0.1 -U postgres leadflow_speed
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadflow_speed \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python benchmarks/speed_to_rep.py --posts 20

Use a database and a Redis database number of their own: the script creates the users,
a team, a rule and a campaign there (or reuses them) and leaves the leads. It prints each
post's seconds and the median and maximum.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from intake import ROOT, VENV_BIN, free_port, manage, production_env, shell, wait_until_up

SETUP = """
from django.contrib.auth.models import Group
from campaigns.models import Campaign
from leadflow.models import Profile
from sales.models import AssignmentRule, Team, TeamMembership
from tests import factories
manager = factories.manager(username="speed-manager")
reps = [factories.rep(username=f"speed-rep{i}") for i in (1, 2)]
for rep in reps:
    Profile.objects.update_or_create(user=rep, defaults={"is_available": True})
team, _ = Team.objects.get_or_create(name="Speed", defaults={"lead": manager})
for rep in reps:
    TeamMembership.objects.get_or_create(team=team, user=rep)
campaign, _ = Campaign.objects.get_or_create(
    name="Speed web form",
    defaults={"channel": "search_ads", "start_date": "2026-01-01", "route_on_intake": True},
)
AssignmentRule.objects.get_or_create(
    name="Speed web form", defaults={"campaign": campaign, "target": "team", "target_team": team}
)
AssignmentRule.objects.filter(name="Speed web form").update(position=0, is_active=True)
print(campaign.intake_key)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per post")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database of its own")
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"):
        raise SystemExit("set CELERY_BROKER_URL to a Redis database of its own")
    env = production_env(
        EMAIL_URL="consolemail://",
        INTAKE_RATE_PER_IP="0",
        DJANGO_SETTINGS_MODULE="leadflow.settings",
    )
    manage(env, "migrate", "--noinput", "-v0")
    key = shell(env, SETUP).splitlines()[-1]
    log = Path(tempfile.mkdtemp()) / "worker.log"
    worker = subprocess.Popen(
        [str(VENV_BIN / "celery"), "-A", "leadflow", "worker", "-l", "info", "-c", "2"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    port = free_port()
    server = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    sys.path.insert(0, str(ROOT))
    os.environ.update(env)
    import django

    django.setup()
    from leadflow.models import Notification, OutboxMessage

    url = f"http://127.0.0.1:{port}/intake/{key}/"
    seconds = []
    try:
        wait_until_up(url)
        deadline = time.monotonic() + 60
        while "ready." not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        run = uuid.uuid4().hex[:8]
        for i in range(args.posts):
            email = f"speed-{run}-{i}@example.com"
            body = urllib.parse.urlencode(
                {"last_name": "Jansen", "email": email, "message": "Call me"}
            ).encode()
            request = urllib.request.Request(
                url, data=body, headers={"Accept": "application/json"}
            )
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=10) as response:
                assert json.load(response)["ok"]
            answered = time.perf_counter() - started
            end = time.monotonic() + args.timeout
            while time.monotonic() < end:
                n = Notification.objects.filter(lead__email=email, kind="handed_to_you").first()
                if (
                    n
                    and OutboxMessage.objects.filter(
                        task="leadflow.tasks.send_notification_email",
                        args=[n.pk],
                        done_at__isnull=False,
                    ).exists()
                ):
                    break
                time.sleep(0.005)
            else:
                raise SystemExit(f"post {i}: no e-mailed notification within {args.timeout} s")
            total = time.perf_counter() - started
            seconds.append(total)
            print(
                f"post {i}: answered in {answered:.3f} s, {n.user.username} notified and "
                f"e-mailed after {total:.3f} s"
            )
            time.sleep(0.2)
    finally:
        server.terminate()
        worker.terminate()
        server.wait()
        worker.wait()
    print(
        f"{len(seconds)} posts: median {statistics.median(seconds):.3f} s, "
        f"max {max(seconds):.3f} s (web form post -> rep notified and e-mail task done)"
    )


if __name__ == "__main__":
    main()
