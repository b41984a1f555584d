"""A URLconf with i18n_patterns, for tests/ops/test_locale.py: config/locale.py then leaves
every request to Django's LocaleMiddleware."""

from django.conf.urls.i18n import i18n_patterns
from django.http import HttpResponse
from django.urls import path

urlpatterns = i18n_patterns(path("c/contest/", lambda request: HttpResponse("page")))
