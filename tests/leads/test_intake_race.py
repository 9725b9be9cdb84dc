import pytest
from django.db import connection

from leads.models import Lead, Touch
from leads.services import lead_intake
from tests import races

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_two_intakes_of_one_email_at_once_make_one_lead_and_two_touches(marketer, campaign):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    outcomes = races.race(
        *[
            lambda: lead_intake(
                by=None, data={"last_name": "Twin", "email": "twin@example.com"}, campaign=campaign
            )
        ]
        * 4
    )
    assert races.failures(outcomes) == []
    assert Lead.objects.count() == 1
    assert Touch.objects.count() == 4
