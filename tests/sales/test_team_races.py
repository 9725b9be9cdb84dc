"""Two managers deactivating each other at the same moment: one wins, the other is told,
and LeadFlow keeps a manager (issue 18, item 7). Needs PostgreSQL's row locks."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from leadflow import roles
from leadflow.errors import LeadflowError
from sales import services
from sales.services import REASSIGN_ROUND_ROBIN
from tests import factories, races

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
User = get_user_model()


@pytest.fixture(autouse=True)
def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def test_two_managers_deactivating_each_other_leave_one(monkeypatch, rep):
    first, second = factories.manager(username="boss1"), factories.manager(username="boss2")
    # The first to lock the managers' rows waits until the other is blocked behind it.
    races.hold_until_blocked(monkeypatch, services, "_open_leads_of")
    outcomes = races.race(
        lambda: services.user_deactivate(user=second, by=first, reassign=REASSIGN_ROUND_ROBIN),
        lambda: services.user_deactivate(user=first, by=second, reassign=REASSIGN_ROUND_ROBIN),
    )
    refused = races.failures(outcomes)
    assert len(refused) == 1 and isinstance(refused[0], LeadflowError), outcomes
    assert "last manager" in refused[0].message
    assert roles.active_managers().count() == 1
