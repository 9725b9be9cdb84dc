import threading

import pytest
from django.db import connection

from leads.models import Lead, Touch
from leads.services import lead_intake

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_two_intakes_of_one_email_at_once_make_one_lead_and_two_touches(marketer, campaign):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    barrier = threading.Barrier(4)
    errors = []

    def intake():
        try:
            barrier.wait()
            lead_intake(
                by=None, data={"last_name": "Twin", "email": "twin@example.com"}, campaign=campaign
            )
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=intake) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert Lead.objects.count() == 1
    assert Touch.objects.count() == 4
