"""What any page of ours costs at the least: the views of bench/floor_bench.py.

Served through the whole production stack (gunicorn, every middleware, WhiteNoise, CSP), they do
nothing of the product: an empty answer, a small template with the tags our pages use, and a
session write (what every step of a login does).
"""

from django.http import HttpResponse
from django.template import engines
from django.urls import path
from django.views.decorators.cache import never_cache

_PAGE = engines["django"].from_string(
    '{% load i18n static %}<!doctype html><html lang="{{ LANGUAGE_CODE }}"><head>'
    '<link rel="stylesheet" href="{% static "css/public.css" %}">'
    "<title>{% translate 'Take part' %}</title></head><body><main>"
    "<h1>{{ title }}</h1><p>{% translate 'Log in with' %} {{ name }}</p>"
    '<form method="post">{% csrf_token %}<button>{% translate "Submit" %}</button></form>'
    "</main></body></html>"
)


@never_cache
def empty(request):
    return HttpResponse("ok", content_type="text/plain")


@never_cache
def page(request):
    return HttpResponse(_PAGE.render({"title": "Summer contest", "name": "Bench IdP"}, request))


@never_cache
def session(request):
    request.session["visits"] = request.session.get("visits", 0) + 1
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("empty/", empty),
    path("page/", page),
    path("session/", session),
]
