import pytest
from django.urls import reverse

from tests import factories


def test_login_page_is_styled_and_has_csrf(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "vendor/bootstrap/css/bootstrap.min.css" in body
    assert "csrfmiddlewaretoken" in body
    assert "cdn" not in body.lower()


def test_anonymous_user_is_sent_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "role, workspace",
    [("Marketing", "/campaigns/"), ("Sales", "/sales/"), ("Managers", "/sales/team/")],
)
def test_home_sends_each_role_to_its_workspace(client, db, role, workspace):
    user = factories.UserFactory(role=role)
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == workspace
    assert client.get(workspace).status_code == 200


def test_user_without_role_is_told_to_ask_for_one(client, db):
    client.force_login(factories.UserFactory())
    response = client.get("/")
    assert response.status_code == 403
    assert b"no LeadFlow role" in response.content


def test_login_with_password_then_logout_by_post(client, db):
    factories.rep(username="rita", password="s3cret-Pass!")
    response = client.post(
        reverse("login"), {"username": "rita", "password": "s3cret-Pass!"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/sales/"
    assert response.context["user"].username == "rita"
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get("/sales/").status_code == 302


def test_wrong_password_shows_a_form_error(client, db):
    factories.rep(username="rita", password="s3cret-Pass!")
    response = client.post(reverse("login"), {"username": "rita", "password": "nope"})
    assert response.status_code == 200
    assert b"correct username and password" in response.content


def test_login_never_redirects_off_site(client, db):
    factories.rep(username="rita", password="s3cret-Pass!")
    response = client.post(
        reverse("login") + "?next=https://evil.example/",
        {"username": "rita", "password": "s3cret-Pass!", "next": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]
