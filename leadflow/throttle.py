"""Login throttling against password guessing.

Failed logins are counted in the cache per (username, client address) and per client
address. After ``LOGIN_FAILURE_LIMIT`` failures for one username from one address (or
``LOGIN_FAILURE_LIMIT_PER_IP`` from one address, whatever usernames it tries) within
``LOGIN_LOCKOUT_SECONDS``, that username at that address (or that address) is locked out
for ``LOGIN_LOCKOUT_SECONDS``: the login pages refuse to check any password for it and say
when to try again. Counting the username per address means wrong passwords typed elsewhere
do not lock its owner out. A successful login clears its username's count at its address;
a manager's :func:`unlock` (``leadflow.services.login_unlock``) clears the username's
lock-outs at every address. With several web processes the cache must be shared
(``CACHE_URL``), as for the intake rate limits.

Usernames are counted as Django's login checks them (:func:`normalize_username`), so
look-alike spellings of one username (full-width, mathematical letters, superscript
digits, other case) share one count.
"""

import hashlib
import logging
import math
import time
import unicodedata

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.utils.translation import ngettext

from . import ratelimit

logger = logging.getLogger("leadflow.login")

LOCKED_OUT = "locked_out"


def normalize_username(username):
    """The key a username is counted under: NFKC, as Django's login form and
    ``AbstractBaseUser.normalize_username`` see it (so "ｒｅｐ３", "𝐫ep3" and "rep³" are
    rep3), then stripped and case-folded."""
    if not isinstance(username, str):
        return ""
    folded = unicodedata.normalize("NFKC", username).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


def _bucket(kind, *values):
    # Hashed: usernames may hold characters a cache key (memcached's) cannot.
    value = "\0".join(values)
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"login:{kind}:{digest}"


def _generation_key(name):
    return f"{_bucket('gen', name)}:g"


def _buckets(request, username):
    """``[(bucket, limit)]``: the username at this address first, then the address. The
    username's bucket carries its generation, which :func:`unlock` replaces to forget every
    count and lock-out of that username at once (at every address)."""
    name = normalize_username(username)
    address = ratelimit.client_ip(request) if request is not None else ""
    generation = str(cache.get(_generation_key(name)) or 0)
    buckets = [(_bucket("user", generation, name, address), settings.LOGIN_FAILURE_LIMIT)]
    if request is not None:
        buckets.append((_bucket("ip", address), settings.LOGIN_FAILURE_LIMIT_PER_IP))
    return [(bucket, limit) for bucket, limit in buckets if limit]


def locked_for(request, username):
    """Seconds until this username (or this client address) may try again; 0 when not
    locked out. A cache outage never locks anyone out (it is logged)."""
    now = time.time()
    try:
        until = [cache.get(f"{bucket}:until") for bucket, _limit in _buckets(request, username)]
    except Exception:  # noqa: BLE001 - the cache is a guard, not a dependency of logging in
        logger.exception("login throttle: cache unavailable")
        return 0
    remaining = max((u - now for u in until if u), default=0)
    return max(0, math.ceil(remaining))


def record_failure(request, username):
    """Count one failed login; start the lock-out when a limit is reached."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    try:
        for bucket, limit in _buckets(request, username):
            count = ratelimit.count(f"{bucket}:n", window)
            if count >= limit:
                cache.add(f"{bucket}:until", time.time() + window, timeout=window)
                cache.delete(f"{bucket}:n")
                logger.warning(
                    "login throttle: %s locked out for %ss after %s failures",
                    bucket.split(":")[1],
                    window,
                    count,
                )
    except Exception:  # noqa: BLE001
        logger.exception("login throttle: cache unavailable")


def reset(request, username):
    """A successful login clears the failures counted against its username (at its
    address)."""
    try:
        name = normalize_username(username)
        address = ratelimit.client_ip(request) if request is not None else ""
        generation = str(cache.get(_generation_key(name)) or 0)
        cache.delete(f"{_bucket('user', generation, name, address)}:n")
    except Exception:  # noqa: BLE001
        logger.exception("login throttle: cache unavailable")


def unlock(username):
    """Forget every failure and lock-out counted against ``username``, at every address
    (the per-address limit across usernames stays). O(1): a fresh generation makes all of
    the username's buckets unreachable; the old ones expire on their own. Cache errors
    propagate: the manager asked, and must hear it did not happen."""
    # A new value each time (never reused), so an unlock cannot revive older buckets. No
    # timeout: the key must outlive every bucket of the generation it replaced.
    cache.set(_generation_key(normalize_username(username)), time.time_ns(), timeout=None)


def lockout_message(seconds):
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed logins. Try again in %(n)s minute, or ask a manager to unlock"
        " your account.",
        "Too many failed logins. Try again in %(n)s minutes, or ask a manager to unlock"
        " your account.",
        minutes,
    ) % {"n": minutes}


class ThrottledLoginMixin:
    """For an AuthenticationForm: refuses to check a password while locked out, counts
    failures, clears them on success. ``locked_seconds`` tells the view to answer 429."""

    locked_seconds = 0

    def clean(self):
        username = self.data.get("username") or ""
        if not isinstance(username, str):
            username = ""
        request = self.request
        seconds = locked_for(request, username)
        if seconds:
            self.locked_seconds = seconds
            raise forms.ValidationError(lockout_message(seconds), code=LOCKED_OUT)
        try:
            data = super().clean()
        except forms.ValidationError as exc:
            if getattr(exc, "code", None) == "invalid_login":
                record_failure(request, username)
                seconds = locked_for(request, username)
                if seconds:
                    self.locked_seconds = seconds
                    raise forms.ValidationError(
                        lockout_message(seconds), code=LOCKED_OUT
                    ) from None
            raise
        reset(request, username)
        return data


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


def too_many_attempts(response, form):
    """Turn a login page's answer into a 429 with Retry-After when ``form`` is locked out."""
    if form is not None and form.locked_seconds:
        response.status_code = 429
        response["Retry-After"] = str(form.locked_seconds)
    return response
