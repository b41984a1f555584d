"""The admin carries the product's name and says who is looking, on every page."""

import pytest
from django.urls import reverse

from tests.admin_html import text_of


@pytest.mark.django_db
def test_every_admin_page_is_headed_with_the_product_name(client, admin_user_a, settings):
    settings.PRODUCT_NAME = "Acme Engage"
    client.force_login(admin_user_a)
    for url in (
        reverse("admin:index"),
        reverse("admin:campaigns_campaign_changelist"),
        reverse("admin:participants_loginattempt_changelist"),
    ):
        page = client.get(url)
        html = page.content.decode()
        assert page.status_code == 200
        assert "Acme Engage" in text_of(html, "#site-name")
        assert "| Acme Engage</title>" in html
        assert "Django administration" not in html and "Django site admin" not in html


@pytest.mark.django_db
def test_the_login_page_carries_the_product_name_too(client, settings):
    settings.PRODUCT_NAME = "Acme Engage"
    page = client.get(reverse("admin:login"))
    assert "Acme Engage" in text_of(page.content.decode(), "#site-name")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "shown"),
    [
        ("admin_user_a", "Administrator, Account A"),
        ("editor_a", "Editor, Account A"),
        ("staff_user", "Platform staff"),
    ],
)
def test_the_header_says_who_is_looking(client, request, who, shown):
    client.force_login(request.getfixturevalue(who))
    page = client.get(reverse("admin:index"))
    assert shown in text_of(page.content.decode(), "#user-tools")


@pytest.mark.django_db
def test_view_site_leads_to_a_real_page(client, admin_user_a, settings):
    settings.PRODUCT_NAME = "Acme Engage"
    client.force_login(admin_user_a)
    index = client.get(reverse("admin:index")).content.decode()
    assert 'href="/"' in index
    home = client.get("/")
    assert home.status_code == 200
    assert "Acme Engage" in home.content.decode()


@pytest.mark.django_db
def test_the_home_page_speaks_french_too(client):
    page = client.get("/?lang=fr")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Ce site héberge des campagnes marketing" in html
    assert 'hreflang="en"' in html  # and offers English back
