"""The import's progress bar in a real browser, in Dutch: while the rows are checked it is
indeterminate (no "100%", no "?"), and while importing, the script's updates read exactly
like the server's text ("4.000 van 20.000 rijen klaar…", not "4000 / 20000")."""

from playwright.sync_api import expect

from leadflow.models import Profile
from leads.models import ImportJob, ImportStatus
from tests import factories


def test_progress_updates_are_honest_and_in_the_pages_language(
    page, live_server, login, console, axe, db
):
    maud = factories.marketer(username="maud")
    Profile.objects.update_or_create(user=maud, defaults={"language": "nl"})
    job = ImportJob.objects.create(
        created_by=maud,
        filename="big.csv",
        encoding="utf-8",
        delimiter=",",
        status=ImportStatus.VALIDATING,
        checked_rows=10000,
    )
    login("maud")

    page.goto(f"{live_server.url}{job.get_absolute_url()}")
    box = page.locator("#import-progress")
    bar = box.get_by_role("progressbar")
    expect(box.locator("[data-progress-text]")).to_have_text("10.000 rijen gecontroleerd…")
    expect(bar).to_have_class("progress progress-wide mb-2 progress-indeterminate")
    expect(bar).not_to_have_attribute("aria-valuenow", "100")
    expect(bar.locator("[data-progress-bar]")).to_have_text("")
    axe("import being checked")

    ImportJob.objects.filter(pk=job.pk).update(checked_rows=15000)
    expect(box.locator("[data-progress-text]")).to_have_text("15.000 rijen gecontroleerd…")
    expect(box).not_to_contain_text("?")
    expect(box).not_to_contain_text("%")

    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, total_rows=20000, valid_rows=20000, processed_rows=2000
    )
    page.reload()
    expect(box.locator("[data-progress-text]")).to_have_text("2.000 van 20.000 rijen klaar…")
    expect(bar.locator("[data-progress-bar]")).to_have_text("10%")

    ImportJob.objects.filter(pk=job.pk).update(processed_rows=4000)
    expect(box.locator("[data-progress-text]")).to_have_text("4.000 van 20.000 rijen klaar…")
    expect(bar).to_have_attribute("aria-valuenow", "20")
    expect(bar.locator("[data-progress-bar]")).to_have_text("20%")
    assert page.evaluate("document.querySelector('[data-progress-bar]').style.width") == "20%"
    axe("import running")
