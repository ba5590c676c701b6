import pytest

pytestmark = pytest.mark.django_db


def test_schema_is_openapi_3_json_without_login(client):
    # when an anonymous client asks for the schema as JSON
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    # then it is an OpenAPI 3 document describing the LeadOps API
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "LeadOps API"


def test_docs_page_serves_swagger_ui_from_this_instance(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/schema/" in html
    # assets come from the sidecar package, so the page works without the internet
    assert "/static/drf_spectacular_sidecar/" in html
