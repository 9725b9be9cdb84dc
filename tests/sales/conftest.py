import pytest

from tests import factories


@pytest.fixture
def third_rep(db):
    return factories.rep(username="rep3")
