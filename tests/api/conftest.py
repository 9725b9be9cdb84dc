import pytest
from rest_framework.test import APIClient

from leadflow.services import api_token_create, api_token_revoke
from tests import factories

ROLES = ("anonymous", "bad_token", "revoked_token", "marketer", "rep", "other_rep", "manager")
# Callers that never get past authentication.
UNAUTHENTICATED = ("anonymous", "bad_token", "revoked_token")


@pytest.fixture
def token_client():
    """token_client(user) -> an APIClient sending that user's new personal token."""

    def make(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[1]}")
        return client

    return make


@pytest.fixture
def users(marketer, rep, other_rep, manager):
    return {"marketer": marketer, "rep": rep, "other_rep": other_rep, "manager": manager}


@pytest.fixture
def client_as(users, token_client):
    """client_as(role) -> an API client for one of ROLES."""

    def make(role):
        if role == "anonymous":
            return APIClient()
        if role == "bad_token":
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION="Token lf_this-is-not-a-token")
            return client
        if role == "revoked_token":
            row, token = api_token_create(user=users["manager"])
            api_token_revoke(token=row, by=users["manager"])
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            return client
        return token_client(users[role])

    return make


@pytest.fixture
def no_role_user(db):
    return factories.UserFactory(username="outsider")
