"""The project's URLs under /elsewhere/: tests/core/test_links.py's URLconf change."""

from django.urls import include, path

urlpatterns = [path("elsewhere/", include("config.urls"))]
