import pytest

pytestmark = pytest.mark.django_db


def test_healthz_is_200_when_database_and_broker_answer(client):
    # when
    response = client.get("/healthz")

    # then
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert "reason" not in body


def test_healthz_is_503_naming_the_broker_when_it_is_down(client, settings):
    # given a broker address where nothing listens
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    settings.HEALTHZ_BROKER_TIMEOUT = 1

    # when
    response = client.get("/healthz")

    # then the database is still reported up and the reason names the broker
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["reason"] == "broker unreachable"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is False
    assert body["broker"]["detail"]


def test_healthz_refuses_writes(client):
    assert client.post("/healthz").status_code == 405


def test_healthz_is_never_cached(client):
    response = client.get("/healthz")

    assert "no-cache" in response["Cache-Control"]
