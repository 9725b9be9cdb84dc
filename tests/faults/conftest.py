"""Fixtures of the fault tests: a private redis-server, real Celery workers on it that read
the test database, journals the test tasks write to, and a client that publishes.

A fault test is marked ``faults`` and ``django_db(transaction=True)`` (the worker sees only
committed rows) and runs on PostgreSQL only; see tests/faults/harness.py for the controls
(RedisServer.stop/start/restart/pause/resume, Worker.kill_pool_child/kill/stop, wait_for).
"""

import contextlib
import shutil

import pytest
from django.conf import settings
from kombu import pools

from leadflow.celery import app as leadflow_app

from . import harness

_reports = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_reports, {})[report.when] = report
    return report


def _failed(request):
    reports = request.node.stash.get(_reports, {})
    return any(report.failed for report in reports.values())


@pytest.fixture
def faults_database(transactional_db):
    """The test database's URL for the worker subprocesses (PostgreSQL only)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(
            "fault tests need PostgreSQL: their worker subprocess reads the test's committed "
            "rows (set DATABASE_URL=postgres://…)"
        )
    return harness.database_url(connection)


@pytest.fixture
def start_redis(tmp_path):
    """start_redis(persist=False) -> a started RedisServer on a free port; stopped at
    teardown."""
    if shutil.which("redis-server") is None:
        pytest.skip("fault tests need redis-server on PATH")
    servers = []

    def start(persist=False):
        server = harness.RedisServer(tmp_path / f"redis-{len(servers) + 1}", persist=persist)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def redis_server(start_redis):
    """A private redis-server without persistence, like docker-compose.yml's."""
    return start_redis()


@pytest.fixture
def start_worker(request, tmp_path, faults_database, redis_server):
    """start_worker(concurrency=1, queues=("celery",), redis=redis_server, ready=True,
    args=(), **env) -> a running harness.Worker on `redis` and the test database, `env`
    added to its environment (CELERY_VISIBILITY_TIMEOUT=5, REDIS_CHANNEL_GUARD=0, …).
    Every worker is stopped at teardown; a failed test prints their logs."""
    workers = []

    def start(concurrency=1, queues=("celery",), redis=None, ready=True, args=(), **env):
        log = tmp_path / f"worker-{len(workers) + 1}.log"
        worker = harness.Worker(
            harness.worker_env(redis or redis_server, faults_database, **env),
            log,
            queues=queues,
            concurrency=concurrency,
            args=args,
        )
        workers.append(worker)
        return worker.start(ready_timeout=30 if ready else 0)

    yield start
    for worker in workers:
        worker.stop()
    if _failed(request):
        for worker in workers:
            print(f"--- {worker.log_path.name} ---\n{worker.tail(200)}")


@pytest.fixture
def worker(start_worker):
    """One worker with a single pool process."""
    return start_worker()


@pytest.fixture
def client(redis_server):
    """Publishes tasks to the private Redis: client.sleep(seconds, journal), client.send(name)."""
    client = harness.Client(redis_server)
    yield client
    client.close()


@pytest.fixture
def journal(tmp_path):
    """journal(name) -> a harness.Journal for tests/faults/tasks.py to write to."""
    return lambda name: harness.Journal(tmp_path / f"{name}.journal")


@pytest.fixture
def leadflow_app_on_redis(redis_server, monkeypatch):
    """LeadFlow's own Celery app publishing to the private Redis (results there too), not
    eager, for the length of the test: code under test that queues a task (leadflow.jobs,
    .delay()) reaches the worker, and feels a Redis stop as the web process would."""
    app, conf = leadflow_app, leadflow_app.conf
    keys = ("broker_url", "broker_transport_options", "result_backend", "task_always_eager")
    saved = {key: conf[key] for key in keys}
    saved_backend = app._backend_cache, getattr(app._local, "backend", None)

    def drop_connections():
        # The app caches its broker connections and result backend: start afresh each way.
        app._pool = None
        app.amqp._producer_pool = None
        app._backend_cache = app._local.backend = None

    def close_private_pools():
        # kombu keeps pools in global registries: close and forget the private Redis's, so
        # a later test on the same port does not get a closed one.
        private = {id(app._pool), id(app.amqp._producer_pool)} - {id(None)}
        for group in (pools.producers, pools.connections):
            for key, pool in list(group.items()):
                if id(pool) in private:
                    with contextlib.suppress(Exception):
                        pool.force_close_all()
                    dict.__delitem__(group, key)  # `key` is already the hash

    drop_connections()
    # Celery reads CELERY_BROKER_URL from the environment before its configuration (the
    # PostgreSQL suite sets it): point that at the private Redis too.
    monkeypatch.setenv("CELERY_BROKER_URL", redis_server.url)
    conf.update(
        broker_url=redis_server.url,
        broker_transport_options=settings.REDIS_BROKER_OPTIONS,
        result_backend=redis_server.url,
        task_always_eager=False,
    )
    try:
        yield app
    finally:
        close_private_pools()
        drop_connections()
        conf.update(saved)
        app._backend_cache, app._local.backend = saved_backend
