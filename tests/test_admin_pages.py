"""Every registered ModelAdmin's changelist and add page open for platform staff."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

ADMINS = sorted(
    (
        (model, admin.site.get_model_admin(model))
        for model in apps.get_models()
        if admin.site.is_registered(model)
    ),
    key=lambda item: item[0]._meta.label,
)


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "model_admin"), ADMINS, ids=[m._meta.label for m, _ in ADMINS])
def test_changelist_and_add_page_open_for_staff(client, staff_user, model, model_admin):
    client.force_login(staff_user)
    opts = model._meta
    changelist = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    if model_admin.has_add_permission(changelist.wsgi_request):
        add = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
        assert add.status_code == 200


@pytest.mark.django_db
def test_admin_pages_send_the_security_headers(client, admin_user_a):
    # HH-06: the same headers as the participant pages; the admin is never framed.
    client.force_login(admin_user_a)
    for url in (reverse("admin:index"), reverse("admin:participants_loginattempt_changelist")):
        page = client.get(url)
        assert page.status_code == 200
        csp = page["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert page["X-Frame-Options"] == "DENY"
        assert page["X-Content-Type-Options"] == "nosniff"
        assert page["Referrer-Policy"] == "same-origin"
    client.logout()
    login = client.get(reverse("admin:login"))
    assert login.status_code == 200
    assert "frame-ancestors 'none'" in login["Content-Security-Policy"]
