"""Services queue tasks by name (leadflow/jobs.py): every name they use must resolve to a
registered task, also in a web process that never imported a task module."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def enqueued_names():
    names = set()
    for path in ROOT.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        names |= set(re.findall(r'enqueue\(\s*"([\w.]+)"', path.read_text()))
    return sorted(names)


def test_services_queue_some_tasks_by_name():
    assert "leads.tasks.run_import" in enqueued_names()


def test_every_enqueued_name_is_a_task_in_a_fresh_web_process():
    code = (
        "import django, os, sys\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'leadflow.settings')\n"
        "django.setup()\n"
        "from leadflow.jobs import task\n"
        "for name in sys.argv[1:]:\n"
        "    assert task(name).name == name, name\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *enqueued_names()], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
