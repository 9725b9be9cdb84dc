"""POST /api/v1/leads/bulk/: a filter or a list of ids and an action, answered 202 with a
job whose URL gives its status, progress, the leads moved and those skipped and why."""

import pytest
import yaml
from django.test import Client

from leads import services as marketing
from leads.bulk import services as bulk
from leads.models import BulkJob, Lead, Stage

from .conftest import UNAUTHENTICATED

BULK = "/api/v1/leads/bulk/"


@pytest.fixture
def winter(db, marketer):
    from tests import factories

    return factories.CampaignFactory(name="Winter", owner=marketer)


def winter_leads(make_lead, winter, n, stage=Stage.NEW):
    make_lead.campaign = winter
    return [make_lead(stage) for _ in range(n)]


def test_a_filter_becomes_a_job_whose_report_names_the_skipped(
    client_as, make_lead, winter, campaign, marketer
):
    leads = winter_leads(make_lead, winter, 5)
    make_lead.campaign = campaign
    other = make_lead(Stage.NEW)
    client = client_as("marketer")
    response = client.post(
        BULK,
        {"action": "qualify", "filter": {"campaign": winter.pk, "stage": ["new"]}},
        format="json",
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["count"] == 5 and body["job"].endswith(f"/api/v1/bulk-jobs/{body['id']}/")
    assert response["Location"] == body["job"]
    job = BulkJob.objects.get(pk=body["id"])
    assert job.selection  # the filters it was chosen by

    disqualified = marketing.lead_disqualify(lead=leads[2], by=marketer, reason="spam")
    bulk.bulk_job_run(job.pk)

    status = client.get(body["job"]).json()
    assert status["status"] == "done" and status["progress"] == 100
    assert (status["total"], status["processed"], status["moved"]) == (5, 5, 4)
    assert status["skipped_count"] == 1
    assert status["skipped"] == [
        {
            "reason": "Cannot qualify this lead: it is at the “Disqualified” stage.",
            "count": 1,
            "leads": [disqualified.pk],
        }
    ]
    assert Lead.objects.get(pk=other.pk).stage == Stage.NEW


def test_ids_hand_off_to_a_chosen_rep(client_as, make_lead, winter, rep):
    leads = winter_leads(make_lead, winter, 3, Stage.MQL)
    client = client_as("manager")
    response = client.post(
        BULK,
        {"action": "hand_off", "ids": [lead.pk for lead in leads] + [10**12], "to": str(rep.pk)},
        format="json",
    )
    assert response.status_code == 202 and response.json()["count"] == 3  # the unknown id left out
    bulk.bulk_job_run(response.json()["id"])
    assert {(lead.stage, lead.owner_id) for lead in Lead.objects.filter(campaign=winter)} == {
        (Stage.HANDED_OFF, rep.pk)
    }


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "promote", "filter": {}}, "action"),
        ({"action": "disqualify", "filter": {}}, "reason"),
        ({"action": "hand_off", "filter": {}}, "to"),
        ({"action": "hand_off", "filter": {}, "to": "somebody"}, "to"),
        ({"action": "qualify", "filter": {"stage": "bogus"}}, "filter"),
        ({"action": "qualify", "filter": {"stgae": "new"}}, "filter"),
        # One campaign at a time: two would have been read as the last alone.
        ({"action": "qualify", "filter": {"campaign": [1, 2]}}, "filter"),
        ({"action": "qualify", "filter": {"q": "nobody-at-all"}}, "ids"),
        ({"action": "qualify"}, "non_field_errors"),
        ({"action": "qualify", "filter": {}, "ids": [1]}, "non_field_errors"),
        ({"action": "qualify", "ids": []}, "ids"),
        ({"action": "qualify", "ids": [2**70]}, "ids"),
    ],
)
def test_bad_input_is_a_400_with_detail(client_as, make_lead, winter, body, field):
    winter_leads(make_lead, winter, 1)
    response = client_as("marketer").post(BULK, body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["detail"] and field in response.json()["errors"]
    assert not BulkJob.objects.exists() and not Lead.objects.exclude(stage=Stage.NEW).exists()


@pytest.mark.parametrize("role, code", [("rep", 403), *((r, 401) for r in UNAUTHENTICATED)])
def test_only_marketing_and_managers_may(client_as, make_lead, winter, role, code):
    lead = winter_leads(make_lead, winter, 1)[0]
    response = client_as(role).post(BULK, {"action": "qualify", "ids": [lead.pk]}, format="json")
    assert response.status_code == code and response.json()["detail"]
    assert not BulkJob.objects.exists()


def test_a_job_is_its_owners_and_the_managers(client_as, make_lead, winter, marketer, db):
    from tests import factories

    lead = winter_leads(make_lead, winter, 1)[0]
    job = bulk.bulk_job_create(by=marketer, action="nurture", params={}, lead_ids=[lead.pk])
    url = f"/api/v1/bulk-jobs/{job.pk}/"
    assert client_as("marketer").get(url).json()["status"] == "queued"
    assert client_as("manager").get(url).status_code == 200
    from rest_framework.test import APIClient

    from leadflow.services import api_token_create

    other = APIClient()
    token = api_token_create(user=factories.marketer(username="m2"))[1]
    other.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert other.get(url).status_code == 404


def test_bulk_is_in_the_schema(db):
    schema = yaml.safe_load(Client().get("/api/v1/schema/").content)
    post = schema["paths"]["/api/v1/leads/bulk/"]["post"]
    assert "202" in post["responses"] and {"400", "403"} <= set(post["responses"])
    assert "get" in schema["paths"]["/api/v1/bulk-jobs/{id}/"]
