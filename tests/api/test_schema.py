"""The OpenAPI schema and the interactive docs (vendored assets, no CDN)."""

import yaml
from django.test import Client

from leads.models import Stage


def test_schema_is_openapi_3_and_public(db):
    response = Client().get("/api/v1/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in (
        "/api/v1/leads/",
        "/api/v1/leads/{id}/",
        "/api/v1/leads/{id}/accept/",
        "/api/v1/leads/{id}/hand-off/",
        "/api/v1/leads/{id}/activities/",
        "/api/v1/campaigns/",
        "/api/v1/disputes/{id}/rule/",
        "/api/v1/leads/{id}/snooze/",
        "/api/v1/tasks/",
        "/api/v1/tasks/{id}/",
        "/api/v1/tasks/{id}/complete/",
    ):
        assert path in paths, path
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_every_operation_documents_its_errors(db):
    schema = yaml.safe_load(Client().get("/api/v1/schema/").content)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            codes = set(operation["responses"])
            assert {"400", "401", "403"} <= codes, (method, path)
            if "{id}" in path:
                assert "404" in codes, (method, path)
            if method == "post":
                assert "409" in codes, (method, path)


def test_lead_list_documents_the_filters(db):
    schema = yaml.safe_load(Client().get("/api/v1/schema/").content)
    names = {p["name"] for p in schema["paths"]["/api/v1/leads/"]["get"]["parameters"]}
    assert {"q", "stage", "campaign", "channel", "owner", "flag", "sort", "cursor"} <= names


def test_task_list_documents_its_filters_and_its_page(db):
    schema = yaml.safe_load(Client().get("/api/v1/schema/").content)
    operation = schema["paths"]["/api/v1/tasks/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"lead", "due_before", "cursor", "page_size"} <= names
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert set(schema["components"]["schemas"][page.rsplit("/", 1)[1]]["properties"]) == {
        "next",
        "previous",
        "results",
    }
    # A lead outside the caller's scope is a 404 on adding a task, as on the page.
    assert "404" in schema["paths"]["/api/v1/tasks/"]["post"]["responses"]


def test_docs_are_served_from_vendored_files(db):
    response = Client().get("/api/v1/docs/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in body
    assert "cdn" not in body.lower() and "unpkg" not in body.lower()
    # The page's own script is a separate file (strict CSP later), not inline.
    script = Client().get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


def test_funnel_is_documented(db):
    schema = yaml.safe_load(Client().get("/api/v1/schema/").content)
    operation = schema["paths"]["/api/v1/funnel/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"start", "end", "campaign", "channel", "owner"} <= names


def conforms(value, schema, components, path="funnel"):
    """Check ``value`` against an OpenAPI schema of the kind drf-spectacular writes: every
    property there and none more, each leaf's JSON type, null only where nullable."""
    if len(schema.get("allOf", ())) == 1:  # a described $ref: {"allOf": [ref], ...}
        schema = schema["allOf"][0]
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    if value is None:
        assert schema.get("nullable"), f"{path} is null"
        return
    kind = schema.get("type", "object")
    if kind == "object":
        assert set(value) == set(schema["properties"]), path
        for key, sub in schema["properties"].items():
            conforms(value[key], sub, components, f"{path}.{key}")
    elif kind == "array":
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            conforms(item, schema["items"], components, f"{path}[{i}]")
    else:
        types = {"integer": int, "number": (int, float), "string": str}
        assert isinstance(value, types[kind]) and not isinstance(value, bool), path


def test_funnel_schema_matches_the_answer(client_as, make_lead):
    """FunnelSerializer only documents funnel_json: key for key, speed to lead, court time,
    attempts and honesty included, with a lead in each list so their items are checked."""
    make_lead(Stage.NEW)
    make_lead(Stage.CONTACTED)
    schema = yaml.safe_load(Client().get("/api/v1/schema/").content)
    operation = schema["paths"]["/api/v1/funnel/"]["get"]
    funnel = operation["responses"]["200"]["content"]["application/json"]["schema"]
    body = client_as("manager").get("/api/v1/funnel/").json()
    court = body["court_time"]
    assert court["marketing"]["held_longest"] and court["marketing"]["by_campaign"]
    assert court["sales"]["held_longest"] and court["sales"]["by_rep"]
    assert body["honesty"]["by_rep"]
    conforms(body, funnel, schema["components"]["schemas"])


def test_forecast_schema_matches_the_answer(client_as, make_lead, rep):
    """ForecastSerializer documents sales.pipeline.forecast key for key: the buckets
    (slipped, no close date, other months), the months and the totals, per rep and, for a
    manager, per team."""
    from sales import services
    from sales.models import Team, TeamMembership

    TeamMembership.objects.create(team=Team.objects.create(name="North"), user=rep)
    services.lead_to_opportunity(lead=make_lead(Stage.CONTACTED), by=rep, value="100")
    schema = yaml.safe_load(Client().get("/api/v1/schema/").content)
    operation = schema["paths"]["/api/v1/forecast/"]["get"]
    forecast = operation["responses"]["200"]["content"]["application/json"]["schema"]
    body = client_as("manager").get("/api/v1/forecast/").json()
    assert body["reps"] and body["teams"]
    assert body["totals"]["no_close_date"]["count"] == 1
    conforms(body, forecast, schema["components"]["schemas"], "forecast")
