import logging

import pytest
from django.http import HttpResponse

from config.logging import RequestIdFilter, current_request_id
from config.request_id import RequestIdMiddleware


def _view_logging_something(request):
    record = logging.LogRecord("participants.views", logging.INFO, "", 0, "inside", (), None)
    RequestIdFilter().filter(record)
    return HttpResponse(record.request_id)


def test_every_response_carries_a_fresh_request_id(rf):
    middleware = RequestIdMiddleware(_view_logging_something)
    first = middleware(rf.get("/"))
    second = middleware(rf.get("/"))
    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_log_records_written_during_the_request_carry_its_id(rf):
    response = RequestIdMiddleware(_view_logging_something)(rf.get("/"))
    assert response.content.decode() == response["X-Request-ID"]


def test_djangos_own_4xx_lines_carry_the_id_and_it_is_forgotten_after_the_response(client, db):
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        response = client.get("/no-such-page")
    finally:
        logger.removeHandler(handler)
    [record] = records
    assert record.getMessage() == "Not Found: /no-such-page"
    assert record.request_id == response["X-Request-ID"]
    assert current_request_id.get() is None


def test_an_id_from_the_load_balancer_is_kept(rf):
    request = rf.get("/", HTTP_X_REQUEST_ID="lb-4f9c2a7e-0001")
    response = RequestIdMiddleware(_view_logging_something)(request)
    assert response["X-Request-ID"] == "lb-4f9c2a7e-0001"


@pytest.mark.parametrize("offered", ["short", "has space in it", "x" * 65, "new\nline-injected"])
def test_an_id_that_does_not_look_like_one_is_replaced(rf, offered):
    request = rf.get("/", HTTP_X_REQUEST_ID=offered)
    response = RequestIdMiddleware(_view_logging_something)(request)
    assert response["X-Request-ID"] != offered


def test_the_site_answers_with_a_request_id(client, db):
    assert client.get("/admin/login/")["X-Request-ID"]
