"""Browser journeys: Playwright drives the machine's Chromium (/usr/bin/chromium) against
pytest-django's live server. A failing test leaves a screenshot and the page's console
log under test-artifacts/; any console error fails the test."""

import contextlib
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": FLAGS}


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def console(page, request):
    """Every console message of the page; errors fail the test at teardown."""
    messages = []
    page.on("console", lambda msg: messages.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    yield messages
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    errors = [m for m in messages if m.startswith(("error", "pageerror"))]
    if failed or errors:
        ARTIFACTS.mkdir(exist_ok=True)
        name = request.node.name.replace("/", "_")
        with contextlib.suppress(Exception):  # best effort on a broken page
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        (ARTIFACTS / f"{name}.console.log").write_text("\n".join(messages))
    assert not errors, f"console errors: {errors}"


@pytest.fixture
def login(page, live_server):
    def do_login(username, password="pw-Secret-123"):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state("networkidle")

    return do_login


SERIOUS = ("serious", "critical")


@pytest.fixture
def axe(page, live_server):
    """axe(page_name): run axe-core (vendored from npm) on the current page and fail on any
    serious or critical accessibility violation."""
    checked = []

    def check(name=""):
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.add_script_tag(url=f"{live_server.url}/static/vendor/axe-core/axe.min.js")
        result = page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
        )
        serious = [v for v in result if v["impact"] in SERIOUS]
        checked.append(name or page.url)
        assert not serious, f"accessibility violations on {name or page.url}: {serious}"

    return check
