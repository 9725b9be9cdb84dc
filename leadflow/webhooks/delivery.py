"""One attempt of one delivery (an endpoint's event, or a chat message), run by the
``leadflow.tasks.deliver_webhook`` task from the outbox.

Each attempt is its own outbox message, so nothing waits in a broker or a worker's memory
between attempts: a failure that may pass (a network error, a timeout, a 5xx or a 429)
writes the next attempt as an outbox message due after the backoff (one minute, then
twice as long each time, at least a 429's or 503's ``Retry-After``, at most six hours),
up to WEBHOOK_MAX_ATTEMPTS; any other answer (a 4xx, a redirect, an address that became
private) gives up at once. The delivery row says what happened: attempts, last status,
last error, next attempt.

A message carries the attempt's number and runs only while the delivery has made one
attempt fewer and no other run holds it, so a message run twice (its worker died, the
outbox published it again) sends at most once more: receivers deduplicate by the
event id, which every attempt repeats.

The request goes through :mod:`http.client` (urllib's own transport) rather than
``urllib.request``: the connection is pinned to the address :mod:`.ssrf` approved, and
nothing follows a redirect or reads a proxy from the environment.
"""

import http.client
import json
import logging
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import jobs
from ..models import DeliveryChannel, DeliveryState, WebhookDelivery
from . import signing, ssrf
from .events import DELIVER_TASK

log = logging.getLogger(__name__)

BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=6)
# A receiver's answer is read this far, for the log; the rest is not LeadFlow's business.
READ_BYTES = 4096
USER_AGENT = "LeadFlow-Webhooks/1"


@dataclass
class Outcome:
    ok: bool = False
    status: int | None = None
    error: str = ""
    retry: bool = False
    retry_after: int | None = None


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the vetted address; the Host header still names the host."""

    def __init__(self, target, timeout):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """TLS to the vetted address, the certificate checked against the host name."""

    def __init__(self, target, timeout):
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = target.address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def encode(payload):
    # Sorted keys: the same bytes at every attempt, whatever order the database kept.
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _retry_after(response):
    value = (response.getheader("Retry-After") or "").strip()
    return int(value) if value.isdigit() else None


def post(url, body, headers, *, timeout=None):
    """POST ``body`` to ``url`` once: the address checked now, no redirect followed."""
    if not settings.WEBHOOK_SENDING:
        return Outcome(error=_("Sending is switched off here (WEBHOOK_SENDING=0)."))
    try:
        target = ssrf.check(url)
    except ssrf.Unresolvable as exc:
        return Outcome(error=str(exc), retry=True)
    except ssrf.UnsafeTarget as exc:
        return Outcome(error=str(exc))
    connection_class = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    connection = connection_class(target, timeout or settings.WEBHOOK_TIMEOUT_SECONDS)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(READ_BYTES)
    except (OSError, http.client.HTTPException) as exc:
        # Refused, reset, timed out, a TLS failure, a garbled answer: try again later.
        return Outcome(error=f"{type(exc).__name__}: {exc}", retry=True)
    finally:
        connection.close()
    status = response.status
    if 200 <= status < 300:
        return Outcome(ok=True, status=status)
    if status == 429 or status >= 500:
        return Outcome(
            status=status, error=f"HTTP {status}", retry=True, retry_after=_retry_after(response)
        )
    if 300 <= status < 400:
        return Outcome(
            status=status,
            error=_("HTTP %(status)s: redirects are not followed; give the final URL.")
            % {"status": status},
        )
    return Outcome(status=status, error=f"HTTP {status}")


def request_of(delivery, *, now=None):
    """(url, body, headers) of the delivery's next attempt."""
    body = encode(delivery.payload)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if delivery.channel != DeliveryChannel.WEBHOOK:
        return delivery.url, body, headers
    timestamp = int(now if now is not None else time.time())
    headers.update(
        {
            signing.EVENT_HEADER: delivery.event_type,
            signing.EVENT_ID_HEADER: str(delivery.event_id),
            signing.TIMESTAMP_HEADER: str(timestamp),
            signing.SIGNATURE_HEADER: signing.signature(delivery.endpoint.secret, timestamp, body),
        }
    )
    return delivery.endpoint.url, body, headers


def backoff(number, retry_after=None):
    """How long after failed attempt ``number`` (1-based) the next one runs."""
    delay = BASE_DELAY * 2 ** min(number - 1, 16)
    if retry_after:
        delay = max(delay, timedelta(seconds=retry_after))
    return min(delay, MAX_DELAY)


def _lease():
    # Connect and read each have the timeout; the margin covers the bookkeeping around them.
    return timedelta(seconds=3 * settings.WEBHOOK_TIMEOUT_SECONDS + 30)


def attempt(delivery_id, number):
    """Run attempt ``number`` of the delivery, if it is still due: record its outcome and
    schedule the next attempt or stop. Returns the Outcome, or None when this message is
    stale (the delivery finished, moved on, or another run holds it)."""
    now = timezone.now()
    lease = now + _lease()
    taken = (
        WebhookDelivery.objects.filter(
            pk=delivery_id, state=DeliveryState.PENDING, attempts=number - 1
        )
        .filter(Q(lease_until=None) | Q(lease_until__lt=now))
        .update(lease_until=lease)
    )
    if not taken:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    if delivery.endpoint_id is not None and not delivery.endpoint.is_active:
        outcome = Outcome(error=_("The endpoint was switched off."))
    else:
        outcome = post(*request_of(delivery))
    _record(delivery, number, lease, outcome)
    return outcome


# Finished deliveries stay in the log this long, then the relay prunes them.
KEEP_FINISHED = timedelta(days=30)


def prune(*, limit=5000, now=None):
    """Delete up to ``limit`` deliveries that finished (delivered or gave up) more than
    KEEP_FINISHED ago; returns how many. Pending ones stay, however old."""
    cutoff = (now or timezone.now()) - KEEP_FINISHED
    ids = list(
        WebhookDelivery.objects.exclude(state=DeliveryState.PENDING)
        .filter(created_at__lt=cutoff)
        .values_list("pk", flat=True)[:limit]
    )
    return WebhookDelivery.objects.filter(pk__in=ids).delete()[0] if ids else 0


@transaction.atomic
def _record(delivery, number, lease, outcome):
    now = timezone.now()
    fields = {
        "attempts": number,
        "last_attempt_at": now,
        "last_status": outcome.status,
        "last_error": outcome.error[:500],
        "lease_until": None,
        "next_attempt_at": None,
    }
    retry_at = None
    if outcome.ok:
        fields.update(state=DeliveryState.DELIVERED, delivered_at=now)
    elif outcome.retry and number < settings.WEBHOOK_MAX_ATTEMPTS:
        retry_at = now + backoff(number, outcome.retry_after)
        fields["next_attempt_at"] = retry_at
    else:
        fields["state"] = DeliveryState.FAILED
    # Only the run holding the lease writes: a run that outlived it lost the delivery.
    if not WebhookDelivery.objects.filter(pk=delivery.pk, lease_until=lease).update(**fields):
        return
    if retry_at is not None:
        jobs.enqueue_at(retry_at, DELIVER_TASK, delivery.pk, number + 1)
    if not outcome.ok:
        log.info(
            "webhook delivery %s attempt %s: %s%s",
            delivery.pk,
            number,
            outcome.error,
            f"; next at {retry_at:%H:%M:%S}" if retry_at else "; giving up",
        )
