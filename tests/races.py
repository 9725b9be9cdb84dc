"""Two or more people (or workers) acting at the same moment, for real: every call on its
own thread and database connection, released together by a barrier. Needs PostgreSQL's
row locks to mean anything.

A barrier only starts the calls together; on a loaded machine one can still finish before
the other begins, and the "race" then proves nothing. ``hold_until_blocked`` makes the
overlap a condition instead of a hope: the call that holds the row lock waits until
PostgreSQL shows another transaction blocked behind it, and fails the test if none ever is.
"""

import threading
import time

from django.db import connection

WAIT_FOR_OTHERS = 20  # seconds; a wait that long means the race never happened
_racing = threading.Event()  # hold_until_blocked holds only calls made inside race()


def race(*calls, timeout=60):
    """Run the calls at once; what each returned, or the exception it raised, in order."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)
    done = [False] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            outcomes[i] = call()
        except Exception as exc:  # noqa: BLE001 - handed back to the test to judge
            outcomes[i] = exc
        finally:
            done[i] = True
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    _racing.set()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=timeout)
    finally:
        _racing.clear()
    assert all(done), f"a racing call did not finish within {timeout} s"
    return outcomes


def failures(outcomes):
    return [o for o in outcomes if isinstance(o, Exception)]


def successes(outcomes):
    return [o for o in outcomes if not isinstance(o, Exception)]


def wait_until_another_transaction_waits_on_mine(timeout=WAIT_FOR_OTHERS):
    """Poll PostgreSQL until some other backend is blocked by a lock this one holds."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            # pg_stat_activity is a snapshot for the whole transaction unless cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )
            if cursor.fetchone()[0]:
                return
            assert time.monotonic() < deadline, (
                f"no other transaction waited on this one's lock within {timeout} s: "
                "the calls did not overlap"
            )
            time.sleep(0.01)


def hold_until_blocked(monkeypatch, owner, name):
    """Patch ``owner.name`` so that its first caller in a race (which already holds the
    lead's row lock) waits until a rival transaction is blocked on that lock, then carries
    on. Calls outside ``race()``, such as a test's set-up, pass straight through."""
    real = getattr(owner, name)
    first = threading.Lock()

    def held(*args, **kwargs):
        if _racing.is_set() and first.acquire(blocking=False):
            wait_until_another_transaction_waits_on_mine()
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, held)


def rival_first(monkeypatch, rival):
    """The sequence a lost race leaves, without threads (so on SQLite too): the next
    ``lifecycle.lock`` first lets ``rival()`` act on the lead, as if the rival had held the
    row lock and committed while this call waited for it. The rival runs in the caller's
    transaction (its own lock passes straight through), so a refusal of the caller rolls
    the rival's changes back too: assert the refusal, not the state after it."""
    from leads import lifecycle

    real = lifecycle.lock
    pending = [rival]

    def lock(lead):
        if pending:
            pending.pop()()
        return real(lead)

    monkeypatch.setattr(lifecycle, "lock", lock)
