"""Two workers sweeping at the same moment (SPEC §4): no duplicate open flag, every flag
raised once in total. Real concurrency needs PostgreSQL."""

import pytest
from django.db import connection

from leads.models import Flag, FlagKind, Stage
from leads.sweep.flags import sweep_flags
from tests import races

from .conftest import T0, D

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def race(n, call):
    results = races.race(*[call] * n)
    assert races.failures(results) == []
    return results


@pytest.mark.parametrize("full", [True, False])
def test_two_sweeps_racing_raise_each_flag_once(clock, make_lead, full):
    stages = [Stage.MQL, Stage.REJECTED, Stage.HANDED_OFF, Stage.ACCEPTED, Stage.CONTACTED]
    for i in range(60):
        make_lead(stages[i % len(stages)])
    sweep_flags(T0)  # a watermark for the incremental case; nothing is due yet
    now = T0 + 70 * D
    clock.stop()  # the threads get an explicit now
    results = race(2, lambda: sweep_flags(now, full=full))

    open_flags = Flag.objects.open()
    pairs = list(open_flags.values_list("lead_id", "kind"))
    assert len(pairs) == len(set(pairs)), "a duplicate open flag"
    assert sum(r.total_raised for r in results) == len(pairs)
    # 12 of each stage: mql 1 kind, rejected 1, handed_off 4 (with the escalation),
    # accepted 3, contacted 2.
    assert len(pairs) == 12 * (1 + 1 + 4 + 3 + 2)
    assert open_flags.filter(kind=FlagKind.UNCONVERTED).count() == 36

    # And resolving races too: both resolve nothing twice.
    later = race(2, lambda: sweep_flags(now, full=full))
    assert sum(r.total_raised + r.total_resolved for r in later) == 0
