"""Login throttling (leadflow/throttle.py): repeated wrong passwords lock a username (from
one client address), or a client address, out for a while, with a clear message and a 429;
a good login resets, and a manager can unlock a username."""

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from leadflow import services
from leadflow.errors import ActionForbidden
from leadflow.names import person
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
    assert (
        "Too many failed logins. Try again in 10 minutes, or ask a manager to unlock your account."
    ) in response.content.decode()
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
        assert "Try again in 5 minutes, or ask a manager" in response.content.decode()
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


# Look-alike spellings: Django logs "ｒｅｐ３", "𝐫ep3" and "rep³" in as rep3 (the NFKC
# normalisation of AbstractBaseUser.normalize_username), so they share rep3's count.
LOOK_ALIKES = ["ｒｅｐ３", "𝐫ep3", "rep³", "ＲＥＰ３ "]


@pytest.mark.parametrize("spelling", LOOK_ALIKES)
def test_look_alike_spellings_of_a_locked_out_username_are_locked_out_too(client, rita, spelling):
    factories.rep(username="rep3", password=PASSWORD)
    for _ in range(3):
        login(client, username="rep3")
    response = login(client, username=spelling, password=PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_look_alike_spellings_share_one_count(client, rita):
    factories.rep(username="rep3", password=PASSWORD)
    for spelling in LOOK_ALIKES[:3]:
        login(client, username=spelling)
    assert login(client, username="rep3", password=PASSWORD).status_code == 429


def test_the_bucket_key_is_django_s_normalisation():
    from leadflow.throttle import normalize_username

    assert {normalize_username(s) for s in [*LOOK_ALIKES, "rep3", " REP3"]} == {"rep3"}
    assert normalize_username(None) == ""


# Lock-out as a weapon: the username lock-out counts per client address.


def test_wrong_passwords_elsewhere_do_not_lock_the_user_out(client, rita):
    attacker = client.__class__()
    for _ in range(5):
        login(attacker, REMOTE_ADDR="203.0.113.9")
    assert login(attacker, password=PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 429
    assert login(client, password=PASSWORD).status_code == 302


def test_the_per_address_limit_still_counts_across_usernames(client, rita, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_IP = 4
    for name in ["a", "b", "c", "d"]:
        login(client, username=name)
    assert login(client, password=PASSWORD).status_code == 429


def _lock_out_everywhere(rita):
    clients = []
    for address in ["127.0.0.1", "203.0.113.9"]:
        other = Client(REMOTE_ADDR=address)
        for _ in range(3):
            login(other)
        assert login(other, password=PASSWORD).status_code == 429
        clients.append(other)
    return clients


def test_a_manager_unlocks_a_username_from_every_address(rita):
    clients = _lock_out_everywhere(rita)
    services.login_unlock(by=factories.manager(), user=rita)
    for other in clients:
        assert login(other, password=PASSWORD).status_code == 302


def test_after_an_unlock_the_count_starts_again(client, rita):
    _lock_out_everywhere(rita)
    services.login_unlock(by=factories.manager(), user=rita)
    for _ in range(2):
        assert login(client).status_code == 200
    assert login(client).status_code == 429


def test_only_managers_unlock(rita):
    clients = _lock_out_everywhere(rita)
    for by in (factories.rep(), factories.marketer(), rita):
        with pytest.raises(ActionForbidden):
            services.login_unlock(by=by, user=rita)
    assert login(clients[0], password=PASSWORD).status_code == 429


def test_the_team_page_unlocks_a_rep(client, rita):
    clients = _lock_out_everywhere(rita)
    client.force_login(factories.manager())
    url = reverse("sales:login_unlock", args=[rita.pk])
    page = client.get(reverse("sales:team")).content.decode()
    assert f'action="{url}"' in page
    response = client.post(url, {"next": "/sales/team/"}, follow=True)
    assert response.redirect_chain[-1][0] == "/sales/team/"
    assert f"{person(rita)} can log in again" in response.content.decode()
    assert login(clients[1], password=PASSWORD).status_code == 302


def test_the_unlock_page_refuses_reps_and_gets(client, rita):
    clients = _lock_out_everywhere(rita)
    url = reverse("sales:login_unlock", args=[rita.pk])
    client.force_login(factories.rep())
    assert client.post(url).status_code == 403
    client.force_login(factories.manager())
    assert client.get(url).status_code == 405
    assert login(clients[0], password=PASSWORD).status_code == 429


def test_an_unlock_the_cache_refuses_says_so(client, rita, monkeypatch):
    from leadflow import throttle

    def broken(username):
        raise ConnectionError("cache away")

    monkeypatch.setattr(throttle, "unlock", broken)
    client.force_login(factories.manager())
    url = reverse("sales:login_unlock", args=[rita.pk])
    response = client.post(url, follow=True)
    assert "The unlock did not work" in response.content.decode()
