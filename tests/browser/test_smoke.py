from tests import factories


def test_marketer_logs_in_and_sees_campaigns(page, live_server, login, console, db):
    factories.marketer(username="maud")
    login("maud")
    assert page.url.endswith("/campaigns/")
    assert page.get_by_role("heading", name="Campaigns").is_visible()
