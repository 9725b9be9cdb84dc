from playwright.sync_api import expect

from leads.demo.seeder import Seeder


def test_dashboard_renders_charts_and_tables_without_console_errors(
    page, live_server, login, console, db
):
    Seeder(leads=300, seed=5, password="pw-Secret-123").run()
    login("manager")
    page.goto(f"{live_server.url}/dashboard/")
    expect(page.get_by_role("heading", name="Handoff dashboard")).to_be_visible()
    assert page.evaluate("Chart.getChart('chart-marketing').data.datasets.length") == 3
    assert page.evaluate("Chart.getChart('chart-sales').data.datasets.length") == 3
    generated = page.locator("#funnel-table tr[data-step=generated] [data-count]").inner_text()
    assert int(generated.replace(",", "")) > 0
    page.get_by_text("The trend as a table").click()
    expect(page.locator("#weekly-table")).to_be_visible()
    page.locator("#ball-dropped [data-category=sales]").click()
    expect(page.get_by_role("heading", name="Leads")).to_be_visible()
    assert "dropped=sales" in page.url
