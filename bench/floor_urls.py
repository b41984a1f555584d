"""What any page of ours costs at the least: the views of bench/floor_bench.py.

Served through the whole production stack (gunicorn, every middleware, WhiteNoise, CSP), they do
nothing of the product: an empty answer, a small template with the tags our pages use, a
session write (what every step of a login does), and the two kinds of work the specification
adds to a login: one call to another server with the stack's HTTP client (`requests`, as the
token and userinfo calls to the IdP), and one single-row INSERT on the database's cursor (the
least a statement costs through Django's connection).
"""

import os
import secrets
import threading

import requests
from django.db import connection
from django.http import HttpResponse
from django.template import engines
from django.urls import path
from django.views.decorators.cache import never_cache

# A small page with the tags ours use, and a form with one field (bench/floor_peer_urls.py shows
# the e-mail in it), in the template language of our public pages (participants/page_templates.py).
PAGE = engines["jinja2"].from_string(
    '<!doctype html><html lang="{{ LANGUAGE_CODE }}"><head>'
    '<link rel="stylesheet" href="{{ static("css/public.css") }}">'
    '<title>{{ _("Take part") }}</title></head><body><main>'
    '<h1>{{ title }}</h1><p>{{ _("Log in with") }} {{ name }}</p>'
    '<form method="post">{{ csrf_input }}<input type="email" name="email" value="{{ email }}">'
    '<button>{{ _("Submit") }}</button></form></main></body></html>'
)


@never_cache
def empty(request):
    return HttpResponse("ok", content_type="text/plain")


@never_cache
def page(request):
    return HttpResponse(PAGE.render({"title": "Summer contest", "name": "Bench IdP"}, request))


@never_cache
def session(request):
    request.session["visits"] = request.session.get("visits", 0) + 1
    return HttpResponse("ok", content_type="text/plain")


_local = threading.local()


def http_session() -> requests.Session:
    """This thread's keep-alive session, as the product's egress keeps one per process."""
    http = getattr(_local, "http", None)
    if http is None:
        http = _local.http = requests.Session()
        http.trust_env = False
    return http


def row_write(value: str) -> None:
    """One single-row INSERT on the cursor: a row of the session table, which every migrated
    database has (the run's throwaway database goes with it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO django_session (session_key, session_data, expire_date) "
            "VALUES (%s, %s, CURRENT_TIMESTAMP)",
            [secrets.token_hex(16), value],
        )


@never_cache
def egress(request):
    answer = http_session().post(
        os.environ["FLOOR_EGRESS_URL"],
        data={"grant_type": "authorization_code", "code": secrets.token_urlsafe(32)},
        timeout=10,
    )
    answer.raise_for_status()
    return HttpResponse("ok", content_type="text/plain")


@never_cache
def insert(request):
    row_write("floor")
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("empty/", empty),
    path("page/", page),
    path("session/", session),
    path("egress/", egress),
    path("insert/", insert),
]
