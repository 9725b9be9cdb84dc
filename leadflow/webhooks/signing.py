"""The signature of a webhook request (README "Webhooks": how a receiver verifies it).

``X-LeadFlow-Signature: sha256=<hex>`` is the HMAC-SHA256, keyed with the endpoint's
secret, of ``<X-LeadFlow-Timestamp>.<raw body>``: the timestamp is signed with the body,
so a captured request replayed later carries a stale timestamp its receiver refuses.
"""

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-LeadFlow-Signature"
TIMESTAMP_HEADER = "X-LeadFlow-Timestamp"
EVENT_HEADER = "X-LeadFlow-Event"
EVENT_ID_HEADER = "X-LeadFlow-Event-Id"

# "whsec_" marks a webhook secret in logs and secret scanners, as "lf_" marks an API token.
SECRET_SCHEME = "whsec_"
# How old a timestamp a receiver should accept (what the README's recipe uses).
TOLERANCE_SECONDS = 300


def new_secret():
    return SECRET_SCHEME + secrets.token_urlsafe(32)


def signature(secret, timestamp, body):
    """The header's value for ``body`` (bytes) sent at ``timestamp`` (whole seconds)."""
    signed = f"{int(timestamp)}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret, *, body, timestamp, header, now, tolerance=TOLERANCE_SECONDS):
    """What a receiver does: True when ``header`` signs ``body`` with ``secret`` and the
    timestamp is within ``tolerance`` seconds of ``now``. Compared in constant time."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now - sent) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, sent, body), header or "")
