"""Fixtures of the sweep and SLA tests (a frozen clock, the sweep in both modes, the
global policy and business hours) and of the import tests (the "Google Ads" campaign)."""

import datetime as dt

import pytest
import time_machine

from leads.models import SLAPolicy
from leads.sweep.flags import sweep_flags
from tests import factories

UTC = dt.UTC
# A Monday; 10:00 in the site's time zone (Europe/Amsterdam, CET in March).
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)


class Clock:
    """``clock.at(moment)`` freezes time at ``moment`` (services stamp it on what they do)."""

    def __init__(self):
        self._traveller = None
        self.now = None

    def at(self, moment):
        self.stop()
        self._traveller = time_machine.travel(moment, tick=False)
        self._traveller.start()
        self.now = moment
        return moment

    def stop(self):
        if self._traveller is not None:
            self._traveller.stop()
            self._traveller = None


@pytest.fixture
def clock():
    c = Clock()
    c.at(T0)
    yield c
    c.stop()


@pytest.fixture(params=["full", "incremental"])
def sweep(request, clock):
    """sweep() runs one sweep at the clock's now, as a full or an incremental sweep (the
    first ever is always full: there is nothing to be incremental to). Both must agree."""
    full = request.param == "full"

    def run(now=None):
        return sweep_flags(now or clock.now, full=full)

    run.mode = request.param
    return run


@pytest.fixture
def policy(db):
    """The global SLA policy; ``policy.set(**fields)`` changes it without a recompute (for
    leads created afterwards)."""
    obj, _created = SLAPolicy.objects.get_or_create(is_global=True)

    def set_(**fields):
        for name, value in fields.items():
            setattr(obj, name, value)
        obj.save()
        return obj

    obj.set = set_
    return obj


@pytest.fixture
def business_hours(policy):
    """Mon–Fri 9:00–17:00 in Europe/Amsterdam."""
    return policy.set(
        business_hours_enabled=True,
        work_days="0,1,2,3,4",
        work_start=dt.time(9, 0),
        work_end=dt.time(17, 0),
        time_zone="Europe/Amsterdam",
    )


@pytest.fixture
def google(db):
    """The campaign the import tests' CSV rows name ("Google Ads", UTM code gads-1)."""
    return factories.CampaignFactory(name="Google Ads", utm_campaign="gads-1")
