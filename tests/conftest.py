import os
from pathlib import Path

import pytest
from django.test import Client

from leadflow.celery import app as celery_app

from . import factories
from .lifecycle import LeadMaker


def pytest_configure(config):
    from django.conf import settings

    from leadflow.catalogues import compile_catalogues

    # PBKDF2's million rounds would dominate the suite's run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The .mo files are build output: bring them up to date before any page is rendered.
    compile_catalogues(settings.LOCALE_PATHS)


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    # Tasks run inline in tests; the worker tests start a real worker instead.
    celery_app.conf.task_always_eager = True
    yield


@pytest.fixture
def marketer(db):
    return factories.marketer(username="marketer")


@pytest.fixture
def rep(db):
    return factories.rep(username="rep1")


@pytest.fixture
def other_rep(db):
    return factories.rep(username="rep2")


@pytest.fixture
def manager(db):
    return factories.manager(username="manager")


@pytest.fixture
def campaign(db, marketer):
    return factories.CampaignFactory(owner=marketer)


@pytest.fixture
def make_lead(db, marketer, rep, manager, campaign):
    """make_lead(stage, owner=rep) -> a lead brought to `stage` through the services."""
    return LeadMaker(marketer=marketer, rep=rep, manager=manager, campaign=campaign)


def _client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rep_client(rep):
    return _client_for(rep)


@pytest.fixture
def other_rep_client(other_rep):
    return _client_for(other_rep)


@pytest.fixture
def manager_client(manager):
    return _client_for(manager)


@pytest.fixture
def marketer_client(marketer):
    return _client_for(marketer)


def is_postgres():
    from django.db import connection

    return connection.vendor == "postgresql"


@pytest.fixture
def postgres_only(db):
    if not is_postgres():
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def subprocess_database_url():
    """The test database as a DATABASE_URL for a worker or server subprocess."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker_env():
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")
    return env


@pytest.fixture
def immediate_on_commit(monkeypatch):
    """Run transaction.on_commit callbacks at once: tests run inside a transaction that
    never commits, and the flow under test (upload -> validate -> confirm -> run) needs
    each step's task to have run before the next request."""
    from django.db import transaction

    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())


@pytest.fixture(autouse=True)
def _fresh_outage_memory():
    """Each test starts in a process that has not seen the cache or the broker fail
    (leadflow.ratelimit and leadflow.outbox leave them alone for a while after a failure)."""
    from leadflow import outbox, ratelimit

    ratelimit.cache_pause.clear()
    outbox.broker_pause.clear()
