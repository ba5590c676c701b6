"""The OpenAPI document is the contract: every operation, fuzzed by schemathesis against the app.

Seeded data (seed_demo) and a valid key for every market get the cases past 401s; each case must
give no server error, a documented status, a documented content type and a body that matches
the schema. The cases come from the schema's own examples and from generated inputs.
"""

import json

import pytest
import schemathesis
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer as JSONRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from leadops.core.access import system_context
from leadops.markets.services import api_client_create
from leadops.wsgi import application
from tests.fixtures import SYSTEM

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_key():
    """A key for every market, with a rate no fuzzing run reaches."""
    call_command("seed_demo", "--quiet-logins", verbosity=0)
    with system_context("tests"):
        return api_client_create(
            actor=SYSTEM, name="contract", all_markets=True, rate_limit="100000/min"
        ).key


def _load() -> schemathesis.BaseSchema:
    """The document /api/schema/ serves, made by the same generator, bound to the WSGI app."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(JSONRenderer().render(document)))
    loaded.app = application
    return loaded


schema = _load()


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_keeps_its_contract(case, api_key):
    case.call_and_validate(headers={"Authorization": f"Token {api_key}"}, checks=CHECKS)


def test_realistic_calls_match_the_documented_schemas(api_key):
    """The happy paths, which fuzzing rarely reaches, answer exactly as documented."""
    from werkzeug.test import Client

    from leadops.api.schema import ADA

    class Api:
        """A WSGI client (schemathesis validates its responses) speaking JSON with the key."""

        def __init__(self):
            self.client = Client(application)
            self.headers = {"Authorization": f"Token {api_key}"}

        def get(self, path, query=None):
            return self.client.get(path, query_string=query, headers=self.headers)

        def post(self, path, body, format="json"):
            return self.client.post(path, json=body, headers=self.headers)

    api = Api()

    def checked(method, path, response):
        schema[path][method].validate_response(response)
        return response

    created = checked("POST", "/api/v1/leads", api.post("/api/v1/leads", ADA, format="json"))
    merged = checked("POST", "/api/v1/leads", api.post("/api/v1/leads", ADA, format="json"))
    lead_id = created.json["lead_id"]
    detail = checked("GET", "/api/v1/leads/{lead_id}", api.get(f"/api/v1/leads/{lead_id}"))
    page = checked("GET", "/api/v1/leads", api.get("/api/v1/leads", {"page_size": 2}))
    checked("GET", "/api/v1/leads", api.get("/api/v1/leads", {"cursor": page.json["next"]}))
    event = checked(
        "POST",
        "/api/v1/leads/{lead_id}/events",
        api.post(
            f"/api/v1/leads/{lead_id}/events", {"type": "activity", "kind": "call"}, format="json"
        ),
    )
    refused = checked(
        "POST",
        "/api/v1/leads/{lead_id}/events",
        api.post(
            f"/api/v1/leads/{lead_id}/events",
            {"type": "status", "status": "converted"},
            format="json",
        ),
    )
    trail = checked(
        "GET", "/api/v1/leads/{lead_id}/audit", api.get(f"/api/v1/leads/{lead_id}/audit")
    )
    items = checked("GET", "/api/v1/exceptions", api.get("/api/v1/exceptions"))
    item_id = items.json["results"][0]["id"]
    checked("GET", "/api/v1/exceptions/{item_id}", api.get(f"/api/v1/exceptions/{item_id}"))
    checked("GET", "/api/v1/markets", api.get("/api/v1/markets"))
    checked("GET", "/api/v1/market-notes", api.get("/api/v1/market-notes"))
    checked("GET", "/api/v1/audit/verify", api.get("/api/v1/audit/verify"))

    assert (created.status_code, merged.status_code) == (201, 200)
    assert detail.json["attributes"] == {"plan": "pro", "seats": 12}
    assert page.json["next"]
    assert (event.status_code, refused.status_code) == (201, 409)
    assert "allowed" in refused.json
    # The demo data holds people like Ada: a new lead may also be filed for review.
    assert trail.json[0]["action"] in ("submission.created", "submission.review")
