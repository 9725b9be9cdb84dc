import pytest

from tests import factories


def test_the_accessibility_check_fails_on_a_serious_violation(page, live_server, login, axe, db):
    factories.marketer(username="maud")
    login("maud")
    axe("campaign list")  # clean
    # An unlabeled form field is a critical violation (axe rule "label").
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend', '<input type=text>')"
    )
    with pytest.raises(AssertionError, match="label"):
        axe("campaign list with an unlabeled field")
