"""A workaround that keeps the Celery worker alive when Redis goes away while a task runs.

With celery 5.7.0 and kombu 5.7.0 a worker whose Redis stops (or restarts) while it runs a
task and has a free pool slot (so a BRPOP is outstanding: ``--concurrency=2`` with one
import running) logs "Restoring 1 unacknowledged message(s)", then
``CRITICAL Unrecoverable error: AttributeError("'NoneType' object has no attribute
'hostname'")`` and exits. The chain (tests/faults/test_worker_redis_restart.py shows it):

1. celery's ``Consumer.on_connection_error_after_connected`` calls ``connection.collect()``.
   Closing the task channel there stops at its first step, reading the outstanding BRPOP
   reply from the dead socket (``kombu/transport/redis.py`` ``Channel.close``); collect()
   swallows that error and detaches the transport anyway (``transport.client = None``,
   ``kombu/connection.py`` ``_do_close_transport``), the channel still open.
2. celery 5.7.0 then also calls ``connection.close()``, which closes that channel again. Its
   pool is gone, so restoring the unacknowledged message builds a new one, and
   ``Channel._connparams`` reads ``self.connection.client.hostname`` with ``client`` None.
   An AttributeError is not a connection error: nothing on the way ignores it.

celery 5.6.3 (with the same kombu) does not crash, as it does not call close() after
collect(). The same class of bug hit kombu before (celery/kombu#582, #970): a channel
closed after its transport was released. ``guard_released_channels`` makes such a channel
raise redis' ConnectionError instead, which every teardown path already ignores. The
message is not lost by it: Redis still lists it as unacknowledged (when Redis kept its
data), and it is delivered again once the visibility timeout has passed.

Remove this module when tests/faults' ``test_unguarded_worker_still_crashes`` fails, i.e.
when celery/kombu no longer crash without it.
"""

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


def guard_released_channels():
    """Make a kombu Redis channel whose connection was released raise redis' ConnectionError
    when it needs a new connection pool, instead of an AttributeError. Idempotent."""
    channel_cls = kombu_redis.Channel
    original = channel_cls._connparams
    if getattr(original, "leadflow_guard", False):
        return

    def _connparams(self, asynchronous=False):
        transport = self.connection
        if transport is None or transport.client is None:
            raise RedisConnectionError("this channel's broker connection was already released")
        return original(self, asynchronous=asynchronous)

    _connparams.leadflow_guard = True
    channel_cls._connparams = _connparams
