"""The one cache counter behind every rate limit (public intake, login throttling), and
the client address they count by. With several web processes the cache must be shared
(``CACHE_URL``)."""

from django.conf import settings
from django.core.cache import cache

from .pause import Pause

# After a cache failure this process leaves the cache alone for this long: a hung Redis
# costs one request its one-second timeout, not every request (the callers let requests
# through while the cache is away).
CACHE_BACKOFF_SECONDS = 30
cache_pause = Pause(CACHE_BACKOFF_SECONDS)


class CacheUnavailable(Exception):
    """The cache failed moments ago; not tried again yet."""


def client_ip(request):
    """REMOTE_ADDR, or with NUM_PROXIES trusted proxies in front, the address the nearest
    of them saw (X-Forwarded-For is only believed that far)."""
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
        if addresses:
            return addresses[-min(proxies, len(addresses))]
    return request.META.get("REMOTE_ADDR", "")


def count(key, timeout):
    """Add one to the counter ``key`` and return its new value. The counter starts at the
    first hit and expires ``timeout`` seconds later. Cache errors propagate (after one, for
    CACHE_BACKOFF_SECONDS, as CacheUnavailable at once): each caller decides whether a
    broken cache lets the request through."""
    if cache_pause.active:
        raise CacheUnavailable
    try:
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=timeout)
            return 1
    except Exception:
        cache_pause.start()
        raise
