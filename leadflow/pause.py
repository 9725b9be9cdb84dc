"""A service that just failed is left alone for a while, in this process: a hung Redis
then costs one request its timeout, not every request (leadflow/outbox.py publishing,
leadflow/ratelimit.py counting)."""

import time


class Pause:
    """After ``start()``, ``active`` is true for ``seconds`` (monotonic clock)."""

    def __init__(self, seconds=0):
        self.seconds = seconds
        self.until = 0.0

    @property
    def active(self):
        return time.monotonic() < self.until

    def start(self, seconds=None):
        self.until = time.monotonic() + (self.seconds if seconds is None else seconds)

    def clear(self):
        self.until = 0.0
