"""Passwords are set only in the Django admin (superusers; there is no sign-up or
password-change page): the configured validators refuse weak ones there."""

import pytest
from django.contrib.auth.models import User

from tests import factories


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    return client


@pytest.mark.parametrize(
    "password, message",
    [
        ("short1", "This password is too short"),
        ("password123", "This password is too common"),
        ("48213657902", "This password is entirely numeric"),
        ("ritamorales", "The password is too similar to the username"),
    ],
)
def test_the_admin_refuses_a_weak_password_for_a_new_user(admin_client, password, message):
    response = admin_client.post(
        "/admin/auth/user/add/",
        {
            "username": "ritamorales",
            "password1": password,
            "password2": password,
            "usable_password": "true",
        },
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(username="ritamorales").exists()


def test_the_admin_accepts_a_strong_password(admin_client):
    response = admin_client.post(
        "/admin/auth/user/add/",
        {
            "username": "rita",
            "password1": "Lead-Flow-4-Rita!",
            "password2": "Lead-Flow-4-Rita!",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(username="rita").check_password("Lead-Flow-4-Rita!")


def test_the_admin_refuses_a_weak_password_change(admin_client):
    rep = factories.rep(username="rita")
    response = admin_client.post(
        f"/admin/auth/user/{rep.pk}/password/",
        {"password1": "12345678", "password2": "12345678", "usable_password": "true"},
    )
    assert response.status_code == 200
    assert "This password is too common" in response.content.decode()
    rep.refresh_from_db()
    assert rep.check_password("pw-Secret-123")
