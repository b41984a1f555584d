"""Every page, as the people who use it see it: each admin page as platform staff, an
Administrator and an Editor, each participant page in English and in French, at 1280×800 and
390×844, saved to test-artifacts/screenshots/pages/ (CI keeps them).

A page fails when it scrolls sideways at 1280 px wide: the page itself, or a box inside it (a
list whose columns run off the screen). Participant pages, made for phones first, are held to
that at 390 px too.

One logged-in browser context per role and per language, resized between the two widths, so
that the whole tour takes a few logins, not hundreds.
"""

import json
import re
import time
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.permissions import Capability, can
from campaigns.models import Campaign, CampaignStatus, SSOMode
from integrations.mapping.store import mapping_table_import, mapping_table_stage
from integrations.models import (
    DeliveryStatus,
    SignInAlert,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from integrations.oauth.breaker import circuit_failure, circuit_success
from participants.login.failures import advice_for
from participants.models import (
    AttemptOutcome,
    LoginAttempt,
    Participant,
    ParticipantErasure,
    Participation,
)
from tests.browser.conftest import ACTION_TIMEOUT_MS, SCREENSHOT_DIR

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PAGES_DIR = SCREENSHOT_DIR / "pages"

# What scrolls sideways: the page, or any box that scrolls (a form control's own text aside).
OVERFLOW_JS = """() => {
  const found = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth) {
    found.push(`the page is ${root.scrollWidth}px wide`);
  }
  for (const el of document.querySelectorAll("body *")) {
    if (["TEXTAREA", "INPUT", "SELECT", "OPTION"].includes(el.tagName)) continue;
    const overflow = getComputedStyle(el).overflowX;
    if (overflow !== "auto" && overflow !== "scroll") continue;
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      const name = el.id ? `#${el.id}` : `.${[...el.classList].join(".")}`;
      const sizes = `${el.scrollWidth}px in ${el.clientWidth}px`;
      found.push(`${el.tagName.toLowerCase()}${name} scrolls (${sizes})`);
    }
  }
  return found;
}"""


# ---------------------------------------------------------------------------- what to show
@pytest.fixture
def world(demo, idp):
    """The demo, with something on every page: participations over a fortnight, logins that
    worked, failed and were abandoned, webhook deliveries, a second mapping version, an upload
    waiting for review, a test login's profile, a sign-in alert and an erasure record."""
    account, campaign, integration = demo.account, demo.campaign, demo.integration
    staff = demo.users["staff"]
    now = timezone.now()
    participant = Participant.objects.create(
        account=account, integration=integration, issuer_key=idp.issuer, subject="subject-ada"
    )
    for n in range(14):
        Participation.objects.create(
            campaign=campaign,
            participant=participant if n == 0 else None,
            values={"firstname": "Ada", "email": f"ada{n}@example.com", "city": "Namur"},
            prefilled={"firstname": "Ada", "city": "Liège"} if n % 3 else {},
            changed=["city"] if n % 4 == 1 else [],
            language="fr" if n % 2 else "en",
            submission_token=f"world-{n:040d}",
        )
    Participation.objects.filter(submission_token__startswith="world-").update(
        submitted_at=now - timedelta(days=3)
    )

    def attempt(n, **fields):
        fields.setdefault("expires_at", now + timedelta(minutes=10))
        return LoginAttempt.objects.create(
            state_hash=f"{n:064d}",
            browser_hash="b" * 64,
            account=account,
            integration=integration,
            campaign=campaign,
            **fields,
        )

    attempt(1, outcome=AttemptOutcome.SUCCESS, participant=participant, idp_duration_ms=180)
    attempt(
        2,
        outcome=AttemptOutcome.FAILED,
        failed_step="token",
        error_code="invalid_client",
        failure_kind="idp_configuration",
        failure_class="configuration",
        error_reference="AB12CD34",
    )
    attempt(3, expires_at=now - timedelta(minutes=5))  # abandoned
    attempt(4, is_test=True, test_user=staff, outcome=AttemptOutcome.SUCCESS)
    SignInAlert.objects.create(
        integration=integration,
        error_code="invalid_client",
        failures=2,
        first_at=now,
        last_at=now,
        last_reference="AB12CD34",
        advice=advice_for("invalid_client"),
    )

    endpoint = WebhookEndpoint.objects.create(
        account=account,
        url="https://hooks.example.com/campaign-sso/participations",
        description="CRM",
        events=["participation.created", "profile.updated", "participant.erased"],
        secret="whsec_" + "A" * 43 + "=",
    )
    for n, status in enumerate([DeliveryStatus.DELIVERED, DeliveryStatus.PENDING]):
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_id=f"msg_world{n}",
            event_type="participation.created",
            payload={"type": "participation.created", "data": {"participation_id": n}},
            status=status,
            attempt_count=1,
            next_attempt_at=now + timedelta(minutes=5),
            last_status_code=204 if status == DeliveryStatus.DELIVERED else 503,
            delivered_at=now if status == DeliveryStatus.DELIVERED else None,
        )
        for minutes, code in ((9, 503), (4, 204)):
            WebhookAttempt.objects.create(
                delivery=delivery,
                started_at=now - timedelta(minutes=minutes),
                status_code=code,
                duration_ms=42,
                response_body="Service Unavailable" if code == 503 else "",
            )

    integration.last_test_profile = json.dumps(
        {
            "userinfo": {
                "given_name": "Alice",
                "family_name": "Martin",
                "email": "Alice.Martin@example.com",
                "birthdate": "1990-04-12",
            }
        }
    )
    integration.save(update_fields=["last_test_profile"])
    table = (
        b"field,source,transform,required\r\n"
        b"firstname,given_name,strip,yes\r\n"
        b"lastname,family_name,strip,yes\r\n"
        b"email,email,strip|lower,yes\r\n"
        b"birthdate,birthdate,date:%d/%m/%Y,no\r\n"
    )
    previous = integration.mapping_versions.get(is_current=True)
    mapping_table_import(integration=integration, user=staff, filename="short.csv", data=table)
    draft = mapping_table_stage(
        integration=integration,
        user=staff,
        filename="next.csv",
        data=table.replace(b"strip|lower", b"lower"),
    ).draft
    ParticipantErasure.objects.create(account=account, erased_by=staff, participations=2)
    return {"previous_version": previous, "draft": draft, "endpoint": endpoint}


def admin_pages(user, demo, world) -> list[tuple[str, str]]:
    """(name, path) of every admin page this user may open, with an object for each."""
    request = RequestFactory().get("/admin/")
    request.user = user
    pages = [("home", reverse("admin:index"))]
    registered = [model for model in apps.get_models() if admin.site.is_registered(model)]
    for model in sorted(registered, key=lambda model: model._meta.label):
        model_admin = admin.site.get_model_admin(model)
        opts = model._meta
        name = f"{opts.app_label}-{opts.model_name}"
        if not model_admin.has_view_or_change_permission(request):
            continue
        pages.append(
            (f"{name}-list", reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        )
        if model_admin.has_add_permission(request):
            pages.append((f"{name}-add", reverse(f"admin:{opts.app_label}_{opts.model_name}_add")))
        if not opts.managed:  # a page without a table (django-rq's queue dashboard)
            continue
        obj = model_admin.get_queryset(request).order_by("pk").first()
        if obj is not None and model_admin.has_view_or_change_permission(request, obj):
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            pages.append((f"{name}-change", change))
    account, campaign, integration = demo.account, demo.campaign, demo.integration
    pages.append(("password-change", reverse("admin:password_change")))
    if can(user, Capability.MANAGE_CAMPAIGNS, account):
        pages.append(
            (
                "campaign-statistics",
                reverse("admin:participants_campaign_statistics", args=[campaign.pk]),
            )
        )
        pages.append(
            ("campaign-history", reverse("admin:campaigns_campaign_history", args=[campaign.pk]))
        )
    if can(user, Capability.VIEW_MAPPING, account):
        pages.append(
            ("mapping", reverse("admin:integrations_mapping_overview", args=[integration.pk]))
        )
        pages.append(
            (
                "mapping-preview",
                reverse("admin:integrations_mapping_preview", args=[integration.pk]),
            )
        )
    if can(user, Capability.EDIT_MAPPING, account):
        review = reverse(
            "admin:integrations_mapping_review", args=[integration.pk, world["draft"].pk]
        )
        restore = reverse(
            "admin:integrations_mapping_restore",
            args=[integration.pk, world["previous_version"].pk],
        )
        pages += [("mapping-review", review), ("mapping-restore", restore)]
    if can(user, Capability.VIEW_SSO_ACTIVITY, account):
        activity = reverse("admin:participants_loginattempt_changelist")
        pages.append(("sso-activity-abandoned", activity + "?outcome__exact=abandoned"))
    if can(user, Capability.MANAGE_WEBHOOKS, account):
        endpoint = world["endpoint"].pk
        pages.append(
            (
                "webhook-rotate",
                reverse("admin:integrations_webhookendpoint_rotate_secret", args=[endpoint]),
            )
        )
    if can(user, Capability.MANAGE_PARTICIPANT_DATA, account):
        participant = Participant.objects.filter(account=account).order_by("pk").first()
        pages.append(
            (
                "participant-erase",
                reverse("admin:participants_participant_erase", args=[participant.pk]),
            )
        )
    return pages


# ---------------------------------------------------------------------------- looking
def look(page, name: str, *, phone_must_fit: bool = False) -> list[str]:
    """Screenshots at both sizes; what scrolls sideways at 1280 px (and 390 px if asked)."""
    PAGES_DIR.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(DESKTOP)
    page.wait_for_load_state("load")
    problems = [f"{name} at 1280 px: {p}" for p in page.evaluate(OVERFLOW_JS)]
    page.screenshot(
        path=str(PAGES_DIR / f"{name}--1280.png"), full_page=True, timeout=ACTION_TIMEOUT_MS
    )
    page.set_viewport_size(PHONE)
    page.screenshot(
        path=str(PAGES_DIR / f"{name}--390.png"), full_page=True, timeout=ACTION_TIMEOUT_MS
    )
    if phone_must_fit:
        problems += [f"{name} at 390 px: {p}" for p in page.evaluate(OVERFLOW_JS)]
    page.set_viewport_size(DESKTOP)
    return problems


def visit(page, url: str, name: str, **kwargs) -> list[str]:
    response = page.goto(url)
    assert response is not None and response.status == 200, (
        f"{name}: {url} answered {response.status}"
    )
    return look(page, name, **kwargs)


@pytest.mark.parametrize("browser_viewport", [DESKTOP])
@pytest.mark.parametrize("role", ["staff", "admin", "editor"])
def test_every_admin_page_fits_a_laptop_screen(page, demo, world, admin_login, role):
    problems = []
    if role == "staff":  # the login page once, before anyone logs in
        problems += visit(page, demo.url("/admin/login/"), "admin-login")
    user = demo.users[role]
    admin_login(page, user, user_password="demo-password-123")
    pages = admin_pages(user, demo, world)
    assert len(pages) > {"staff": 30, "admin": 20, "editor": 5}[role]
    # On a phone the header stacks; "Log out" and the rest must stay inside it, readable.
    page.set_viewport_size(PHONE)
    header, tools = (
        page.locator("#header").bounding_box(),
        page.locator("#user-tools").bounding_box(),
    )
    assert tools["y"] + tools["height"] <= header["y"] + header["height"]
    page.set_viewport_size(DESKTOP)
    for name, path in pages:
        problems += visit(page, demo.url(path), f"admin-{role}-{name}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("browser_viewport", [DESKTOP])
@pytest.mark.parametrize(
    ("language", "browser_locale"), [("en", "en-GB"), ("fr", "fr-FR")], ids=["en", "fr"]
)
def test_every_participant_page_fits_a_laptop_and_a_phone(
    page, demo, world, idp, settings, language, browser_locale
):
    account, campaign, integration = demo.account, demo.campaign, demo.integration
    slug = campaign.slug

    def other(suffix: str, **fields) -> Campaign:
        fields.setdefault("status", CampaignStatus.LIVE)
        fields.setdefault("oauth_integration", integration)
        return Campaign.objects.create(
            account=account,
            slug=f"{slug}-{suffix}",
            title=f"Autumn quiz ({suffix})",
            title_fr=f"Quiz d’automne ({suffix})",
            languages=["en", "fr"],
            **fields,
        )

    later = other("later", starts_at=timezone.now() + timedelta(days=3))
    over = other("over", status=CampaignStatus.ENDED)
    required = other("required", sso_mode=SSOMode.REQUIRED)
    for field in campaign.fields.all()[:3]:
        field.pk = None
        field.campaign = required
        field.save()
    problems = []

    def see(path: str, name: str, *, status: int = 200) -> None:
        separator = "&" if "?" in path else "?"
        response = page.goto(demo.url(f"{path}{separator}lang={language}"))
        assert response is not None and response.status == status, (name, response.status)
        problems.extend(look(page, f"participant-{language}-{name}", phone_must_fit=True))

    see("/", "home")
    see(f"/c/{slug}/", "landing")
    see(f"/c/{slug}/form/", "form")
    see(f"/c/{later.slug}/", "not-started")
    see(f"/c/{over.slug}/", "ended", status=410)
    see("/c/no-such-campaign/", "unknown", status=404)
    see(f"/c/{required.slug}/form/", "login-required")
    key = integration.callback_key
    see(f"/oauth/callback/{key}?code=x&state=forged", "sign-in-not-matched", status=400)
    for kind, status in (("access_denied", 400), ("idp_configuration", 502), ("idp_timeout", 504)):
        see(f"/sso/problem/?kind={kind}&c={slug}&ref=AB12CD34", f"sign-in-{kind}", status=status)
    # The IdP's token endpoint failed logins in a row: the circuit opens, for a second here.
    settings.IDP_BREAKER_OPEN_SECONDS = 1
    for _ in range(settings.IDP_BREAKER_FAILURES):
        circuit_failure(integration_id=integration.pk)
    see(f"/c/{slug}/login/", "login-paused", status=503)
    circuit_success(integration_id=integration.pk)
    time.sleep(1.1)  # the open period ends; logins resume by themselves

    # Logged in at the IdP: the prefilled form, then the thank-you and "already" pages.
    page.goto(demo.url(f"/c/{slug}/form/?lang={language}"))
    page.locator("a.button--sso").first.click()
    idp.log_in(page, "alice")
    page.locator("#consent-form button[type=submit]").first.click()
    page.wait_for_url(re.compile(re.escape(demo.url(f"/c/{slug}/form/"))))
    problems += look(page, f"participant-{language}-form-prefilled", phone_must_fit=True)
    page.locator("form.campaign-form button[type=submit]").click()
    page.wait_for_url(re.compile(re.escape(demo.url(f"/c/{slug}/thanks/"))))
    problems += look(page, f"participant-{language}-thanks", phone_must_fit=True)
    see(f"/c/{slug}/already/", "already")

    # A form whose CSRF cookie the browser lost meanwhile: it comes back with the answers.
    page.goto(demo.url(f"/c/{required.slug}/form/?lang={language}"))
    page.goto(demo.url(f"/c/{later.slug}/?lang={language}"))
    other(
        "open",
        oauth_integration=None,
    ).fields.create(variable="firstname", label_en="First name", label_fr="Prénom", position=1)
    page.goto(demo.url(f"/c/{slug}-open/form/?lang={language}"))
    page.context.clear_cookies(name="csrftoken")
    with page.expect_navigation():
        page.locator("form.campaign-form button[type=submit]").click()
    problems += look(page, f"participant-{language}-csrf-failure", phone_must_fit=True)

    settings.RATE_LIMITS = {"login": {"ip": "1/m", "campaign": "600/m"}}
    page.goto(demo.url(f"/c/{slug}/login/?lang={language}"))
    see(f"/c/{slug}/login/", "rate-limited", status=429)
    assert not problems, "\n".join(problems)
