import json

import pytest
from django.db.utils import ConnectionHandler

from config.health import DEGRADED, OK, UNAVAILABLE, database_status, healthz

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok_when_database_and_cache_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_on_a_real_redis_cache(client, redis_cache):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["cache"] == "ok"


def test_healthz_answers_200_degraded_naming_the_cache_when_redis_is_down(client, broken_cache):
    # The node still serves (logins and forms work without the cache): a load balancer must not
    # take it out, since a cache outage would then take out every node at once.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": DEGRADED, "database": OK, "cache": UNAVAILABLE}
    # Nothing about where the cache lives or what went wrong.
    body = response.content.decode()
    assert "127.0.0.1" not in body
    assert "refused" not in body.lower()


def test_healthz_logs_why_the_cache_failed(client, broken_cache, caplog):
    client.get("/healthz")
    [record] = [r for r in caplog.records if r.name == "config.health"]
    assert "cache is unavailable" in record.getMessage()
    assert record.exc_info is not None


def test_a_database_that_cannot_be_reached_is_reported_unavailable(tmp_path):
    handler = ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": tmp_path / "no" / "db"}}
    )
    assert database_status(handler["default"]) == UNAVAILABLE


def test_healthz_answers_head_but_not_post(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_healthz_is_served_over_http_while_everything_else_redirects_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    response = client.get("/admin/")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_healthz_still_validates_the_host(client):
    response = client.get("/healthz", HTTP_HOST="10.0.0.7")
    assert response.status_code == 400


def test_healthz_body_is_plain_json(client):
    assert json.loads(client.get("/healthz").content)["status"] == "ok"


def test_healthz_answers_503_when_the_database_is_down(rf, monkeypatch):
    # Whatever the cache says: a node that cannot reach its database cannot serve.
    import config.health

    monkeypatch.setattr(config.health, "database_status", lambda connection: UNAVAILABLE)
    response = healthz(rf.get("/healthz"))
    assert response.status_code == 503
    assert json.loads(response.content) == {
        "status": UNAVAILABLE,
        "database": UNAVAILABLE,
        "cache": OK,
    }


def test_healthz_answers_503_when_both_are_down(rf, monkeypatch, broken_cache):
    import config.health

    monkeypatch.setattr(config.health, "database_status", lambda connection: UNAVAILABLE)
    response = healthz(rf.get("/healthz"))
    assert response.status_code == 503
    assert json.loads(response.content)["status"] == UNAVAILABLE
