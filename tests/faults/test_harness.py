"""The fault-test harness itself: its Redis controls, a worker that reads the test's
committed rows, and LeadFlow's own app publishing to the private Redis."""

import pytest

from tests import factories

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_redis_server_stops_starts_and_pauses_on_its_own_port(start_redis):
    redis = start_redis()
    assert redis.ping() and redis.port != 6379
    redis.client().set("kept", "no")
    redis.pause()
    assert not redis.ping()
    redis.resume()
    assert redis.ping()
    redis.restart()
    assert redis.ping() and redis.client().get("kept") is None


def test_persistent_redis_keeps_its_keys_across_a_restart(start_redis):
    redis = start_redis(persist=True)
    redis.client().set("kept", "yes")
    redis.restart()
    assert redis.client().get("kept") == b"yes"


def test_worker_reads_the_rows_the_test_committed(worker, client, journal):
    factories.rep(username="committed")
    seen = journal("user")
    client.send("tests.faults.tasks.user_exists", "committed", str(seen))
    seen.wait("user", worker=worker)
    assert seen.lines() == [["user", "committed", "True"]]
    assert worker.pool_pid() in worker.pool_pids()


def test_leadflow_app_publishes_to_the_private_redis(worker, leadflow_app_on_redis):
    from leadflow.tasks import ping

    result = ping.delay()
    assert result.get(timeout=20) == "pong"
    worker.wait_log(rf"leadflow\.tasks\.ping\[{result.id}\] succeeded")
