import os

import pytest

from leadflow.celery import app as celery_app

from . import factories
from .lifecycle import LeadMaker


def pytest_configure(config):
    from django.conf import settings

    # PBKDF2's million rounds would dominate the suite's run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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


def is_postgres():
    from django.db import connection

    return connection.vendor == "postgresql"


@pytest.fixture
def postgres_only(db):
    if not is_postgres():
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture
def worker_env():
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")
    return env
