"""Webhooks in the admin: endpoints (Administrators of the account and platform staff), their
delivery log with payloads and attempts, resend, test events, secret rotation.

Access goes through `AccountScopedAdmin` with Capability.MANAGE_WEBHOOKS: every queryset, object
lookup and custom view below is limited to the accounts where the user has it.
"""

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts.admin import AccountScopedAdmin, AccountScopedInline, ReadOnlyAdminMixin
from accounts.permissions import Capability, accounts_for, can, is_platform_staff
from integrations.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from integrations.webhooks.endpoints import (
    ROTATION_WINDOW,
    endpoint_enable,
    endpoint_secret_rotate,
    endpoint_secret_set,
)
from integrations.webhooks.forms import WebhookEndpointForm
from integrations.webhooks.outbox import TestEventRateLimitError, delivery_resend, webhook_test_send
from integrations.webhooks.tasks import deliveries_dispatch


def _when(moment) -> str:
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _count_deliveries(status: str) -> Count:
    return Count("deliveries", filter=Q(deliveries__status=status))


def _delivery_log_url(endpoint_id: int, **params) -> str:
    query = "&".join([f"endpoint={endpoint_id}", *(f"{k}={v}" for k, v in params.items())])
    return reverse("admin:integrations_webhookdelivery_changelist") + "?" + query


class WebhookEndpointAdmin(AccountScopedAdmin):
    capability = Capability.MANAGE_WEBHOOKS
    form = WebhookEndpointForm
    change_form_template = "admin/integrations/webhookendpoint/change_form.html"
    list_display = [
        "__str__",
        "url",
        "state",
        "subscribed_events",
        "pending_deliveries",
        "failed_deliveries",
        "last_success_at",
    ]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    readonly_fields = [
        "signing_secret",
        "state",
        "last_success_at",
        "failing_since",
        "delivery_log",
    ]

    def get_fieldsets(self, request, obj=None):
        activation = ["is_active", "description"]
        if "account" not in self.get_exclude(request, obj):
            activation.insert(0, "account")
        fieldsets = [
            ("Activation", {"fields": activation}),
            ("Receiver", {"fields": ["url", "events"]}),
            (
                "Extra authentication",
                {
                    "fields": ["auth_type", "auth_username", "auth_header_name", "auth_secret"],
                    "description": "Every delivery is signed (Standard Webhooks). Add this if "
                    "your receiver also wants a password, a token or an API key header.",
                },
            ),
        ]
        if obj is not None:
            fieldsets.append(
                (
                    "Status",
                    {
                        "fields": [
                            "signing_secret",
                            "state",
                            "last_success_at",
                            "failing_since",
                            "delivery_log",
                        ]
                    },
                )
            )
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("account")  # an endpoint never moves to another account
        return readonly

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("account")
            .annotate(
                pending_count=_count_deliveries(DeliveryStatus.PENDING),
                failed_count=_count_deliveries(DeliveryStatus.FAILED),
            )
        )

    # ------------------------------------------------------------------------ columns
    @admin.display(description="State")
    def state(self, obj: WebhookEndpoint):
        if obj.disabled_at is not None:
            return format_html(
                '<strong class="status-bad">Disabled on {}: {}</strong>',
                _when(obj.disabled_at),
                obj.disabled_reason,
            )
        if not obj.is_active:
            return "Switched off"
        if obj.failing_since is not None:
            return format_html(
                '<span class="status-bad">Failing since {}</span>', _when(obj.failing_since)
            )
        return format_html('<span class="status-ok">{}</span>', "Active")

    @admin.display(description="Events")
    def subscribed_events(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events or [])

    @admin.display(description="Pending", ordering="pending_count")
    def pending_deliveries(self, obj: WebhookEndpoint):
        return format_html(
            '<a href="{}">{}</a>',
            _delivery_log_url(obj.pk, status=DeliveryStatus.PENDING),
            obj.pending_count,
        )

    @admin.display(description="Failed", ordering="failed_count")
    def failed_deliveries(self, obj: WebhookEndpoint):
        return format_html(
            '<a href="{}">{}</a>',
            _delivery_log_url(obj.pk, status=DeliveryStatus.FAILED),
            obj.failed_count,
        )

    @admin.display(description="Signing secret")
    def signing_secret(self, obj: WebhookEndpoint) -> str:
        text = "Set; shown only when created or rotated."
        expires = obj.previous_secret_expires_at
        if obj.previous_secret and expires and expires > timezone.now():
            text += f" The previous secret also signs until {_when(expires)}."
        return text

    @admin.display(description="Delivery log")
    def delivery_log(self, obj: WebhookEndpoint):
        return format_html('<a href="{}">Deliveries to this URL</a>', _delivery_log_url(obj.pk))

    # ------------------------------------------------------------------------ views
    @method_decorator(sensitive_post_parameters("auth_secret"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        disabled = self.get_queryset(request).filter(disabled_at__isnull=False)
        for endpoint in disabled[:10]:
            messages.error(
                request,
                f"Deliveries to {endpoint.url} are stopped: {endpoint.disabled_reason} "
                "Fix the receiver, then open the webhook and enable it again.",
            )
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        if not change:
            request._webhook_new_secret = endpoint_secret_set(endpoint=obj)
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        # The secret is shown in this response and stored nowhere in clear: not in a message,
        # not in the session.
        return self._secret_page(request, obj, secret=request._webhook_new_secret, created=True)

    def _secret_page(self, request, obj, *, secret: str, created: bool):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": "Your webhook signing secret",
            "secret": secret,
            "created": created,
            "rotation_hours": int(ROTATION_WINDOW.total_seconds() // 3600),
            "change_url": reverse("admin:integrations_webhookendpoint_change", args=[obj.pk]),
        }
        response = TemplateResponse(
            request, "admin/integrations/webhookendpoint/secret.html", context
        )
        response["Cache-Control"] = "no-store"
        return response

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/rotate-secret/",
                view(self.rotate_secret_view),
                name="integrations_webhookendpoint_rotate_secret",
            ),
            path(
                "<path:object_id>/send-test/",
                view(require_POST(self.send_test_view)),
                name="integrations_webhookendpoint_send_test",
            ),
            path(
                "<path:object_id>/enable/",
                view(require_POST(self.enable_view)),
                name="integrations_webhookendpoint_enable",
            ),
            *super().get_urls(),
        ]

    def _changeable(self, request, object_id) -> WebhookEndpoint:
        obj = self.get_object(request, unquote(object_id))  # scoped queryset
        if obj is None:
            raise Http404("No such webhook endpoint.")
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def rotate_secret_view(self, request, object_id):
        obj = self._changeable(request, object_id)
        if request.method == "POST":
            secret = endpoint_secret_rotate(endpoint=obj)
            return self._secret_page(request, obj, secret=secret, created=False)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": "Rotate the signing secret?",
            "rotation_hours": int(ROTATION_WINDOW.total_seconds() // 3600),
        }
        return TemplateResponse(
            request, "admin/integrations/webhookendpoint/rotate_secret.html", context
        )

    def send_test_view(self, request, object_id):
        obj = self._changeable(request, object_id)
        try:
            delivery = webhook_test_send(endpoint=obj)
        except TestEventRateLimitError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"A test event ({delivery.event_id}) is on its way; see the delivery log.",
            )
        return HttpResponseRedirect(
            reverse("admin:integrations_webhookendpoint_change", args=[obj.pk])
        )

    def enable_view(self, request, object_id):
        obj = self._changeable(request, object_id)
        with transaction.atomic():
            waiting = endpoint_enable(endpoint=obj)
            # As many as the endpoint takes at once; each freed slot then queues the next.
            transaction.on_commit(
                lambda: deliveries_dispatch(now=timezone.now(), endpoint_id=obj.pk), robust=True
            )
        messages.success(
            request,
            ngettext(
                "Webhook enabled; %(count)d waiting event will be sent.",
                "Webhook enabled; %(count)d waiting events will be sent.",
                waiting,
            )
            % {"count": waiting},
        )
        return HttpResponseRedirect(
            reverse("admin:integrations_webhookendpoint_change", args=[obj.pk])
        )


# ---------------------------------------------------------------------------- delivery log
class EndpointFilter(admin.SimpleListFilter):
    title = "endpoint"
    parameter_name = "endpoint"

    def lookups(self, request, model_admin):
        endpoints = WebhookEndpoint.objects.order_by("url")
        if not is_platform_staff(request.user):
            endpoints = endpoints.filter(
                account__in=accounts_for(request.user, Capability.MANAGE_WEBHOOKS)
            )
        return [(str(e.pk), str(e)) for e in endpoints]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(endpoint_id=int(value))
        return queryset


class TestEventFilter(admin.SimpleListFilter):
    title = "test event"
    parameter_name = "is_test__exact"

    def lookups(self, request, model_admin):
        return [("1", "Yes"), ("0", "No")]

    def queryset(self, request, queryset):
        if self.value() in ("0", "1"):
            return queryset.filter(is_test=self.value() == "1")
        return queryset


class WebhookAttemptInline(ReadOnlyAdminMixin, AccountScopedInline, admin.TabularInline):
    model = WebhookAttempt
    verbose_name_plural = "Attempts, newest first"
    capability = Capability.MANAGE_WEBHOOKS
    account_path = "delivery__endpoint__account"
    fields = ["started_at", "http_status", "duration", "error", "answer"]
    readonly_fields = fields  # shown escaped, like every read-only value
    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        # `obj` is the parent delivery here, not an attempt.
        if obj is None:
            return super().has_view_permission(request)
        return can(request.user, self.capability, obj.endpoint.account)

    @admin.display(description="HTTP status")
    def http_status(self, obj: WebhookAttempt):
        if obj.in_flight:
            return "in flight"
        return obj.status_code or "—"

    @admin.display(description="Duration")
    def duration(self, obj: WebhookAttempt) -> str:
        return "—" if obj.duration_ms is None else f"{obj.duration_ms}\u00a0ms"

    @admin.display(description="Answer (first 2 KB)")
    def answer(self, obj: WebhookAttempt) -> str:
        return obj.response_body or "—"


# The log is read-only; resend is its own permission.
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    capability = Capability.MANAGE_WEBHOOKS
    account_path = "endpoint__account"
    change_form_template = "admin/integrations/webhookdelivery/change_form.html"
    list_display = [
        "created_at",
        "event_type",
        "event_id_shown",
        "endpoint",
        "status",
        "attempts_made",
        "last_status_code_shown",
        "next_attempt",
    ]
    list_filter = [EndpointFilter, "status", "event_type", TestEventFilter]
    list_select_related = ["endpoint"]
    search_fields = ["event_id"]
    date_hierarchy = "created_at"
    actions = ["resend_deliveries"]
    inlines = [WebhookAttemptInline]
    fields = [
        "endpoint",
        "event_type",
        "event_id_shown",
        "status",
        "attempts_made",
        "next_attempt",
        "last_status_code_shown",
        "last_error",
        "delivered_at",
        "created_at",
        "test_event",
        "payload_json",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(attempts_logged=Count("attempts"))

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is not None and obj.status != DeliveryStatus.PENDING:
            fields.remove("next_attempt")  # delivered or failed: there is no next attempt
        if obj is not None and obj.status != DeliveryStatus.DELIVERED:
            fields.remove("delivered_at")
        return fields

    @admin.display(description="Event ID (webhook-id)", ordering="event_id")
    def event_id_shown(self, obj: WebhookDelivery):
        return format_html("<code>{}</code>", obj.event_id)

    @admin.display(description="Attempts")
    def attempts_made(self, obj: WebhookDelivery) -> str:
        """Every attempt in the log below; a resend starts the retry schedule again, whose
        own count (`attempt_count`) is said beside it."""
        logged = getattr(obj, "attempts_logged", None)
        if logged is None:
            logged = obj.attempts.count()
        if obj.attempt_count < logged:
            return ngettext(
                "%(logged)d (%(since)d since it was resent)",
                "%(logged)d (%(since)d since it was resent)",
                logged,
            ) % {"logged": logged, "since": obj.attempt_count}
        return str(logged)

    @admin.display(description="Next attempt", ordering="next_attempt_at")
    def next_attempt(self, obj: WebhookDelivery) -> str:
        if obj.status != DeliveryStatus.PENDING or obj.next_attempt_at is None:
            return "—"
        return _when(obj.next_attempt_at)

    @admin.display(description="Last HTTP status", ordering="last_status_code")
    def last_status_code_shown(self, obj: WebhookDelivery):
        return obj.last_status_code or "—"

    @admin.display(description="Test event", boolean=True)
    def test_event(self, obj: WebhookDelivery) -> bool:
        return obj.is_test

    def has_resend_permission(self, request, obj=None):
        return self.has_view_permission(request, obj)

    @admin.display(description="Payload")
    def payload_json(self, obj: WebhookDelivery):
        return format_html(
            '<pre style="white-space:pre-wrap">{}</pre>',
            json.dumps(obj.payload, indent=2, ensure_ascii=False),
        )

    @admin.action(description="Resend the selected deliveries", permissions=["resend"])
    def resend_deliveries(self, request, queryset):
        resent = sum(delivery_resend(delivery=d) for d in queryset)  # queryset is scoped
        messages.success(
            request,
            ngettext(
                "%(count)d delivery queued to be sent again.",
                "%(count)d deliveries queued to be sent again.",
                resent,
            )
            % {"count": resent},
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/resend/",
                self.admin_site.admin_view(require_POST(self.resend_view)),
                name="integrations_webhookdelivery_resend",
            ),
            *super().get_urls(),
        ]

    def resend_view(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such delivery.")
        if not self.has_resend_permission(request, obj):
            raise PermissionDenied
        if delivery_resend(delivery=obj):
            messages.success(request, f"{obj.event_id} will be sent again (same webhook-id).")
        else:
            messages.warning(request, "It is being sent right now; try again in a moment.")
        return HttpResponseRedirect(
            reverse("admin:integrations_webhookdelivery_change", args=[obj.pk])
        )
