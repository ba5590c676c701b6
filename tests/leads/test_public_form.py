import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from leadops.core.access import system_context
from leadops.core.errors import ApplicationError
from leadops.leads.models import Lead, Submission
from leadops.leads.sources import source_form_set
from tests.fixtures import SYSTEM

pytestmark = pytest.mark.django_db

SITE = "https://www.example.com"


@pytest.fixture
def form(table, web):
    cache.clear()
    source = source_form_set(actor=SYSTEM, source=web, origins=[SITE + "/", " "])
    return f"/api/v1/forms/{source.form_key}"


def browser(origin=SITE):
    return APIClient(HTTP_ORIGIN=origin)


def test_a_form_post_from_an_allowed_site_is_received_with_cors(form):
    response = browser().post(form, {"email": "visitor@example.org", "country": "DE"})

    assert response.status_code == 202
    assert response.json() == {"received": True}
    assert response["Access-Control-Allow-Origin"] == SITE
    with system_context("tests"):
        assert Lead.objects.filter(email_norm="visitor@example.org").exists()


def test_the_answer_does_not_reveal_a_known_person(form):
    first = browser().post(form, {"email": "known@example.org", "country": "DE"}, format="json")
    again = browser().post(form, {"email": "known@example.org", "country": "DE"}, format="json")

    assert first.content == again.content


def test_preflight_answers_only_allowed_origins(form):
    allowed = browser().options(form)
    other = browser("https://evil.example").options(form)

    assert allowed.status_code == 204
    assert allowed["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert other.status_code == 403
    assert "Access-Control-Allow-Origin" not in other


def test_a_post_from_another_site_is_refused_and_nothing_ingested(form):
    response = browser("https://evil.example").post(form, {"email": "x@example.org"})

    assert response.status_code == 403
    with system_context("tests"):
        assert not Lead.objects.filter(email_norm="x@example.org").exists()


def test_the_honeypot_keeps_the_submission_but_makes_no_lead(form):
    response = browser().post(form, {"email": "bot@example.org", "leadops_hp": "http://spam"})

    assert response.status_code == 202
    with system_context("tests"):
        assert not Lead.objects.filter(email_norm="bot@example.org").exists()
        assert Submission.objects.get(outcome="rejected").errors == {"leadops_hp": ["filled in"]}


def test_invalid_form_input_gets_field_errors(form):
    response = browser().post(form, {"first_name": "Only a name"})

    assert response.status_code == 400
    assert "email" in response.json()["errors"]


def test_each_address_is_rate_limited_per_form(form, settings):
    settings.LEAD_FORM_RATE = "2/min"

    codes = [browser().post(form, {"email": f"r{i}@example.org"}).status_code for i in range(3)]

    assert codes == [202, 202, 429]


def test_unknown_or_closed_forms_are_404(web):
    assert browser().post("/api/v1/forms/nope", {"email": "a@b.example"}).status_code == 404


def test_origins_must_be_origins(web):
    with pytest.raises(ApplicationError, match="is not an origin"):
        source_form_set(actor=SYSTEM, source=web, origins=["https://example.com/contact"])
