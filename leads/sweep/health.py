"""The sweep's check for /health/ (a django-health-check backend; the others are in
leadflow/health.py, and leadflow/urls.py mounts them together)."""

import dataclasses

from django.conf import settings
from django.utils import timezone
from health_check import HealthCheck
from health_check.exceptions import ServiceUnavailable

from leadflow.health import late
from leadflow.models import Heartbeat

from ..models import SweepRun


def latest_sweep():
    """When the latest finished sweep started (a SweepRun is written as its sweep ends):
    one row, read backwards off sweeprun_at_idx."""
    return SweepRun.objects.order_by("-at").values_list("at", flat=True)[:1]


@dataclasses.dataclass
class RecentSweep(HealthCheck):
    """The last sweep finished within a few SWEEP_INTERVAL_SECONDS. Before the first sweep
    ever, the clock starts at beat's first tick: a new installation is not late until beat
    has run for that long without a sweep finishing."""

    async def run(self):
        now = timezone.now()
        interval = settings.SWEEP_INTERVAL_SECONDS
        last = [at async for at in latest_sweep()]
        if last:
            age = now - last[0]
            if late(age, interval):
                raise ServiceUnavailable(
                    f"the last sweep finished {age.total_seconds():.0f} s ago; "
                    f"beat starts one every {interval} s"
                )
            return
        since = await Heartbeat.objects.filter(pk="beat").values_list("since", flat=True).afirst()
        if since is None or late(now - since, interval):
            raise ServiceUnavailable("no sweep has finished yet")
