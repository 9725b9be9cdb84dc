"""The Content-Security-Policy in a real browser: pages that run scripts (Bootstrap,
Chart.js, the import progress bar, Swagger UI) work under it, and Chromium reports no
violation (the ``console`` fixture fails the test on any console error, and a CSP
violation is one)."""

from tests import factories


def test_api_docs_render_under_the_policy(page, live_server, console, db):
    page.goto(f"{live_server.url}/api/v1/docs/")
    # Swagger UI fetched the schema and drew its operations.
    page.get_by_text("/api/v1/leads/").first.wait_for(timeout=15000)
    assert page.locator(".swagger-ui .opblock").count() > 10
    violations = [m for m in console if "Content Security Policy" in m]
    assert not violations


def test_dashboard_chart_and_nav_work_under_the_policy(page, live_server, login, console, db):
    factories.manager(username="mona")
    login("mona")
    page.goto(f"{live_server.url}/dashboard/")
    page.wait_for_load_state("networkidle")
    assert page.locator("canvas").count() >= 1
    violations = [m for m in console if "Content Security Policy" in m]
    assert not violations
