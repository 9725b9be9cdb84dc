"""Login throttling (leadflow/throttle.py): repeated wrong passwords lock a username (or a
client address) out for a while, with a clear message and a 429; a good login resets."""

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.cache import cache

from tests import factories

PASSWORD = "pw-Secret-123"


@pytest.fixture
def rita(db, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_LIMIT_PER_IP = 10
    settings.LOGIN_LOCKOUT_SECONDS = 600
    cache.clear()
    yield factories.rep(username="rita")
    cache.clear()


def login(client, username="rita", password="wrong", url="/accounts/login/", **extra):
    return client.post(url, {"username": username, "password": password}, **extra)


def test_wrong_passwords_lock_the_username_out_with_a_clear_message(client, rita):
    for _ in range(2):
        response = login(client)
        assert response.status_code == 200
        assert b"correct username and password" in response.content
    response = login(client)
    assert response.status_code == 429
    assert "Too many failed logins; try again in 10 minutes." in response.content.decode()
    assert int(response["Retry-After"]) > 590
    # Locked out, even the right password is not checked.
    response = login(client, password=PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lock_out_ends_after_its_time(client, rita):
    with time_machine.travel("2030-01-01 12:00", tick=False) as clock:
        for _ in range(3):
            login(client)
        assert login(client, password=PASSWORD).status_code == 429
        clock.shift(301)
        response = login(client, password=PASSWORD)
        assert response.status_code == 429
        assert "try again in 5 minutes" in response.content.decode()
        clock.shift(300)
        assert login(client, password=PASSWORD).status_code == 302


def test_a_good_login_resets_the_count(client, rita):
    login(client)
    login(client)
    assert login(client, password=PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    login(client)
    login(client)
    assert login(client, password=PASSWORD).status_code == 302


def test_usernames_are_counted_case_insensitively(client, rita):
    login(client, username="rita")
    login(client, username="RITA ")
    assert login(client, username="Rita").status_code == 429


def test_one_address_guessing_many_usernames_is_locked_out(client, rita):
    for n in range(10):
        login(client, username=f"user{n}")
    response = login(client, password=PASSWORD)
    assert response.status_code == 429
    # Another address is not affected.
    other = client.__class__()
    assert login(other, password=PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 302


def test_the_admin_login_is_throttled_too(client, rita):
    User.objects.create_superuser("root", "root@example.com", PASSWORD)
    for _ in range(3):
        login(client, username="root", url="/admin/login/")
    response = login(client, username="root", password=PASSWORD, url="/admin/login/")
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()


def test_a_locked_out_user_keeps_api_tokens_and_sessions(client, rita, settings):
    # Throttling guards password checks only: a session or token already held still works.
    client.force_login(rita)
    other = client.__class__()
    for _ in range(3):
        login(other)
    assert client.get("/sales/").status_code == 200


def test_throttling_can_be_switched_off(client, rita, settings):
    settings.LOGIN_FAILURE_LIMIT = 0
    settings.LOGIN_FAILURE_LIMIT_PER_IP = 0
    for _ in range(10):
        login(client)
    assert login(client, password=PASSWORD).status_code == 302
