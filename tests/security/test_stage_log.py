"""The stage log (StageChange) is append-only: no page, API endpoint or admin page edits or
deletes a row, and the model, its queryset and (on PostgreSQL) the database refuse to.
The URL walk (test_url_walk.py) checks that no request of any role changes an existing
row."""

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction

from leads.models import StageChange
from tests.conftest import is_postgres

from .test_url_walk import PATTERNS


@pytest.fixture
def change(make_lead):
    make_lead("mql")
    return StageChange.objects.order_by("-id").first()


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    return client


def test_the_model_refuses_to_save_an_existing_row_again(change):
    change.note = "rewritten"
    with pytest.raises(TypeError, match="append-only"):
        change.save()


def test_the_model_refuses_to_delete_a_row(change):
    with pytest.raises(TypeError, match="append-only"):
        change.delete()


@pytest.mark.parametrize(
    "write",
    [
        lambda qs: qs.update(note="x"),
        lambda qs: qs.delete(),
        lambda qs: StageChange.objects.bulk_update(list(qs), ["note"]),
    ],
    ids=["update", "delete", "bulk_update"],
)
def test_the_queryset_refuses_to_change_rows(change, write):
    with pytest.raises(TypeError, match="append-only"), transaction.atomic():
        write(StageChange.objects.filter(pk=change.pk))
    change.refresh_from_db()
    assert change.note != "x"


def test_the_admin_grants_no_add_change_or_delete_even_to_a_superuser(change, superuser_client):
    client = superuser_client
    assert client.get("/admin/leads/stagechange/").status_code == 200
    assert client.get("/admin/leads/stagechange/add/").status_code == 403
    page = client.get(f"/admin/leads/stagechange/{change.pk}/change/")
    assert page.status_code == 200  # a read-only view
    assert b'name="_save"' not in page.content
    response = client.post(
        f"/admin/leads/stagechange/{change.pk}/change/", {"note": "edited", "to_stage": "new"}
    )
    assert response.status_code == 403
    assert client.get(f"/admin/leads/stagechange/{change.pk}/delete/").status_code == 403
    response = client.post(
        "/admin/leads/stagechange/",
        {"action": "delete_selected", "_selected_action": [change.pk], "post": "yes"},
    )
    assert StageChange.objects.filter(pk=change.pk, note=change.note).exists()
    assert b"delete_selected" not in client.get("/admin/leads/stagechange/").content


def test_no_stage_change_is_writable_through_the_lead_admin(change, superuser_client):
    # Stage changes have no inline on the lead's admin page, and deleting the lead is
    # refused while its log exists (PROTECT).
    page = superuser_client.get(f"/admin/leads/lead/{change.lead_id}/change/")
    assert page.status_code == 200
    assert b"stage_changes-TOTAL_FORMS" not in page.content
    superuser_client.post(f"/admin/leads/lead/{change.lead_id}/delete/", {"post": "yes"})
    assert StageChange.objects.filter(pk=change.pk).exists()


def test_no_api_route_is_about_stage_changes():
    api_routes = [p.route for p in PATTERNS if p.route.startswith("api/")]
    assert api_routes
    assert not [r for r in api_routes if "stage" in r.lower()]


def test_the_database_refuses_updates_and_deletes_on_postgresql(change):
    if not is_postgres():
        pytest.skip("the trigger is PostgreSQL's (leads 0008)")
    for sql in (
        "UPDATE leads_stagechange SET note = 'x' WHERE id = %s",
        "DELETE FROM leads_stagechange WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [change.pk])
    assert StageChange.objects.filter(pk=change.pk, note=change.note).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO leads_stagechange (lead_id, from_stage, to_stage, at, note) "
            "VALUES (%s, 'mql', 'nurture', now(), 'appended')",
            [change.lead_id],
        )
    assert StageChange.objects.filter(note="appended").exists()
