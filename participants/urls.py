from django.urls import path

from . import views

app_name = "participants"

urlpatterns = [
    path("c/<slug:slug>/", views.landing, name="landing"),
    path("c/<slug:slug>/form/", views.campaign_form, name="form"),
    path("c/<slug:slug>/thanks/", views.thanks, name="thanks"),
    path("c/<slug:slug>/already/", views.already, name="already"),
    # Placeholder: the SSO login flow replaces the view and keeps the name and path.
    path("c/<slug:slug>/login/", views.login_start, name="login_start"),
]
