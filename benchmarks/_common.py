"""What the benchmark scripts share: the set-up of an in-process run, the medians and the
server time of a page through Django's test client.

The scripts are run as ``python benchmarks/<name>.py`` from the repository root: Python
puts benchmarks/ on the path, so ``import _common`` finds this file, and importing it puts
the repository root on the path for the project's packages. Import it before Django.
"""

import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")


def in_process_environment(debug):
    """Defaults for a run of the app in this process, set before ``django.setup()``:
    ``DEBUG`` as given ("1" keeps plain static storage, no collected manifest needed;
    such a script turns DEBUG off after set-up), a throwaway secret key, the test
    client's host over plain HTTP, no broker, warnings only in the log."""
    os.environ.setdefault("DEBUG", debug)
    os.environ.setdefault("SECRET_KEY", "benchmark-only-" + uuid.uuid4().hex)
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def setup(eager_tasks=False):
    """``django.setup()``, then any host and DEBUG off (no query log kept in memory,
    production error handling); ``eager_tasks`` runs Celery tasks in the request."""
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    settings.DEBUG = False
    if eager_tasks:
        from leadflow.celery import app

        app.conf.task_always_eager = True


def machine(database_default=None):
    """The line that says where the figures were taken."""
    database = os.environ.get("DATABASE_URL", database_default)
    return f"cores: {os.cpu_count()}  database: {database}"


def client_for(username):
    """A test client logged in as ``username``."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def median_ms(func, repeat=5, warm_up=True):
    """The median milliseconds of ``repeat`` calls of ``func``, after one untimed call
    that warms the caches (PostgreSQL buffers, templates) unless ``warm_up`` is off."""
    if warm_up:
        func()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


@dataclass
class ServerTime:
    median_ms: float
    worst_ms: float
    queries: list  # the SQL of the last timed request (CaptureQueriesContext)
    status: int  # of the last timed request
    warm_up: object  # the untimed first response, for a script's correctness check


def server_time(client, path, data=None, repeat=5):
    """GET ``path`` (with query ``data``) through ``client``: one untimed warm-up, then
    ``repeat`` timed requests, each read to its end (a streamed CSV too)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    warm_up = client.get(path, data)
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            response = client.get(path, data)
            if response.streaming:
                b"".join(response.streaming_content)
            times.append((time.perf_counter() - start) * 1000)
    return ServerTime(
        median_ms=statistics.median(times),
        worst_ms=max(times),
        queries=ctx.captured_queries,
        status=response.status_code,
        warm_up=warm_up,
    )


def timed_get(client, url, repeat=5):
    """(median ms, queries, HTTP status) of ``server_time``: a page benchmark's line."""
    run = server_time(client, url, repeat=repeat)
    return run.median_ms, len(run.queries), run.status
