import pytest
from django.core.cache import cache
from django.db import transaction

from .world import build_world


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """One World per test module, in a transaction rolled back when the module is done;
    each test runs in its own savepoint inside it (pytest-django's ``db``)."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _fresh_limits(settings):
    # Login throttling and the intake's rate limits count in the cache; the walk and the
    # fuzz pass post far more than a person would.
    settings.INTAKE_RATE_PER_IP = 0
    settings.INTAKE_RATE_PER_KEY = 0
    settings.PASSWORD_RESET_RATE_PER_IP = 0
    settings.PASSWORD_RESET_RATE_PER_EMAIL = 0
    # The webhook rows post a loopback URL; the walk never commits, so nothing is sent.
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    cache.clear()
    yield
    cache.clear()
