from django.contrib import admin
from django.urls import include, path

from config.health import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("participants.urls")),
]

# The last line while the database is down: a participant URL gets the friendly 503 page, not
# the bare "Server Error (500)" (participants/outage.py).
handler500 = "participants.outage.server_error"
