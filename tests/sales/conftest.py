import pytest
from django.test import Client

from tests import factories


def _client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rep_client(rep):
    return _client_for(rep)


@pytest.fixture
def other_rep_client(other_rep):
    return _client_for(other_rep)


@pytest.fixture
def manager_client(manager):
    return _client_for(manager)


@pytest.fixture
def marketer_client(marketer):
    return _client_for(marketer)


@pytest.fixture
def third_rep(db):
    return factories.rep(username="rep3")
