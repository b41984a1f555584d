"""The mapping in the admin: rules, uploads, history, template download and preview.

Pages per integration (link to them with `reverse(name, args=[integration.pk])`):

    admin:integrations_mapping_overview   rules, upload form (staff), history, links
    admin:integrations_mapping_upload     POST a CSV/XLSX table (staff)
    admin:integrations_mapping_template   args=[pk, "csv" | "xlsx"]: the current rules, or a
                                          starter table, as a template to fill
    admin:integrations_mapping_preview    paste a profile (or use the last test login's)
    admin:integrations_mapping_review     args=[pk, draft_pk]: an upload's differences with
                                          the current rules and the last test login's profile
                                          run through both; POST publishes or discards (staff)
    admin:integrations_mapping_restore    args=[pk, version_pk]: the same review for an earlier
                                          version; POST restores it (staff)

Administrators of the account see everything read-only (Capability.VIEW_MAPPING); only staff
change anything (Capability.EDIT_MAPPING). Another account's pages are 404.
"""

import json
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_protect

from accounts.admin import AccountScopedAdmin, ReadOnlyAdminMixin
from accounts.permissions import Capability, can, user_display_for_account
from core.json_input import JSONDepthError, json_loads_bounded
from integrations.fields import UndecryptableSecret
from integrations.mapping import Profile, mapping_explain
from integrations.mapping.apply import RuleOutcome, rules_from_rows
from integrations.mapping.diff import mapping_diff
from integrations.mapping.exports import STARTER_SPECS, table_csv, table_xlsx
from integrations.mapping.store import (
    ImportOutcome,
    ImportStatus,
    MappingChangedError,
    current_specs,
    custom_variables_for,
    draft_specs,
    mapping_draft_publish,
    mapping_rules_for,
    mapping_specs_for,
    mapping_table_stage,
    mapping_version_record,
    mapping_version_restore,
)
from integrations.mapping.tables import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    RuleSpec,
    TableRow,
    table_validate,
)
from integrations.mapping.transforms import TRANSFORM_REFERENCE
from integrations.models import MappingRule, OAuthIntegration

PREVIEW_MAX_CHARS = 200_000
RULES_SHOWN = 300
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---------------------------------------------------------------------------- uploads
class UploadSizeCapHandler(FileUploadHandler):
    """Stops receiving uploaded files past `limit` bytes and flags the request; the rest of the
    body is read and dropped (no connection reset, so the browser shows our message)."""

    flag = "_upload_size_cap_exceeded"

    def __init__(self, request=None, *, limit: int) -> None:
        super().__init__(request)
        self.limit = limit

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            setattr(self.request, self.flag, True)
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


# ---------------------------------------------------------------------------- forms
def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    return f"{size / 1024:.0f} KB"


class MappingUploadForm(forms.Form):
    table = forms.FileField(
        label="Mapping table",
        allow_empty_file=True,  # the reader gives the clearer message
        help_text="CSV (UTF-8, comma, semicolon or tab) or XLSX, with the columns "
        + ", ".join(REQUIRED_COLUMNS)
        + ", and "
        + ", ".join(OPTIONAL_COLUMNS)
        + " when you use them.",
    )

    def clean_table(self):
        upload = self.cleaned_data["table"]
        limit = settings.MAPPING_UPLOAD_MAX_BYTES
        # The size Django counted while receiving: checked before we read a byte of it.
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {_size_text(upload.size)}; the limit is {_size_text(limit)}."
            )
        return upload


class MappingPreviewForm(forms.Form):
    profile_json = forms.CharField(
        label="Sample profile (JSON)",
        required=False,
        max_length=PREVIEW_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 14, "cols": 100, "spellcheck": "false"}),
        help_text=(
            "Either the claims as the IdP sends them (treated as the profile endpoint's answer), "
            'or {"id_token": {…}, "access_token": {…}, "userinfo": {…}, "token": {…}}.'
        ),
    )
    use_last_test = forms.BooleanField(
        label="Use the profile of the last test login instead", required=False
    )

    def __init__(self, *args, last_test_profile: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.last_test_profile = last_test_profile

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if cleaned.get("use_last_test"):
            text = self.last_test_profile
            if not text:
                raise forms.ValidationError("There is no test login profile yet.")
        else:
            text = cleaned.get("profile_json", "")
            if not text.strip():
                raise forms.ValidationError("Paste a profile, or use the last test login.")
        try:
            data = json_loads_bounded(text)
        except JSONDepthError as error:
            raise forms.ValidationError(
                f"The sample profile is nested too deeply (more than {error.max_depth} levels)."
            ) from None
        except json.JSONDecodeError as error:
            raise forms.ValidationError(
                f"This is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
            ) from None
        try:
            cleaned["profile"] = Profile.from_json(data)
        except ValueError as error:
            raise forms.ValidationError(f"This is not a profile: {error}.") from None
        return cleaned


class MappingRuleForm(forms.ModelForm):
    """One rule edited in the admin, checked exactly like a table row."""

    class Meta:
        model = MappingRule
        fields = ["integration", "target", "source", "transform", "fallback", "required", "notes"]

    def clean(self):
        cleaned = super().clean()
        integration = cleaned.get("integration") or getattr(self.instance, "integration", None)
        if not cleaned.get("target") or not cleaned.get("source") or integration is None:
            return cleaned
        row = TableRow(
            line=0,
            cells={
                "field": cleaned["target"],
                "source": cleaned["source"],
                "transform": cleaned.get("transform", ""),
                "fallback": cleaned.get("fallback", ""),
                "required": "yes" if cleaned.get("required") else "no",
                "notes": cleaned.get("notes", ""),
            },
        )
        custom = custom_variables_for(integration=integration)
        validation = table_validate(rows=[row], custom_variables=custom)
        for error in validation.errors:
            column = {"field": "target"}.get(error.column, error.column)
            self.add_error(column if column in self.fields else None, error.message)
        if not validation.errors:
            cleaned["target"] = validation.specs[0].target
        return cleaned


# ---------------------------------------------------------------------------- rules
class _RecordsVersionMixin:
    """An edit in the admin is a new version of the mapping, like an upload."""

    def _record(self, request, integration) -> None:
        mapping_version_record(
            integration=integration, user=request.user, label="edited in the admin"
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._record(request, obj.integration)

    def delete_model(self, request, obj):
        integration = obj.integration
        super().delete_model(request, obj)
        self._record(request, integration)

    def delete_queryset(self, request, queryset):
        integrations = {rule.integration for rule in queryset.select_related("integration")}
        super().delete_queryset(request, queryset)
        for integration in integrations:
            self._record(request, integration)


class MappingRuleAdmin(_RecordsVersionMixin, AccountScopedAdmin):
    capability = Capability.VIEW_MAPPING
    edit_capability = Capability.EDIT_MAPPING
    account_path = "integration__account"
    form = MappingRuleForm
    list_display = ["target", "source", "transform", "fallback", "required", "mapping_page"]
    list_filter = [("integration", admin.RelatedOnlyFieldListFilter), "required"]
    search_fields = ["target", "source"]
    list_select_related = ["integration"]

    @admin.display(description="integration")
    def mapping_page(self, obj):
        url = reverse("admin:integrations_mapping_overview", args=[obj.integration_id])
        return format_html('<a href="{}">{}</a>', url, obj.integration.display_name)


# ---------------------------------------------------------------------------- history and pages
class MappingTableVersionAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    """Upload history (read-only: versions come from uploads, restores and edits only) and the
    host of the per-integration mapping pages."""

    capability = Capability.VIEW_MAPPING
    edit_capability = Capability.EDIT_MAPPING
    account_path = "integration__account"
    list_display = ["uploaded_at", "integration_link", "filename", "uploaded_by", "is_current"]
    list_filter = [("integration", admin.RelatedOnlyFieldListFilter), "is_current"]
    list_select_related = ["integration", "uploaded_by"]
    readonly_fields = ["integration", "uploaded_by", "uploaded_at", "filename", "sha256", "rules"]
    fields = readonly_fields + ["is_current"]
    user_fields = {"uploaded_by": "uploaded by"}

    @admin.display(description="integration")
    def integration_link(self, obj):
        url = reverse("admin:integrations_mapping_overview", args=[obj.integration_id])
        return format_html('<a href="{}">{}</a>', url, obj.integration.display_name)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "integration/<int:integration_id>/",
                wrap(self.overview_view),
                name="integrations_mapping_overview",
            ),
            path(
                "integration/<int:integration_id>/upload/",
                wrap(self.upload_view),
                name="integrations_mapping_upload",
            ),
            path(
                "integration/<int:integration_id>/template.<str:file_format>",
                wrap(self.template_view),
                name="integrations_mapping_template",
            ),
            path(
                "integration/<int:integration_id>/preview/",
                wrap(self.preview_view),
                name="integrations_mapping_preview",
            ),
            path(
                "integration/<int:integration_id>/review/<int:draft_id>/",
                wrap(self.review_view),
                name="integrations_mapping_review",
            ),
            path(
                "integration/<int:integration_id>/restore/<int:version_id>/",
                wrap(self.restore_view),
                name="integrations_mapping_restore",
            ),
            *super().get_urls(),
        ]

    # -- access
    def _integration(self, request, integration_id: int, *, edit: bool = False):
        integration = (
            OAuthIntegration.objects.select_related("account").filter(pk=integration_id).first()
        )
        # Another account's integration does not exist, as far as this user can tell.
        if integration is None or not can(
            request.user, Capability.VIEW_MAPPING, integration.account
        ):
            raise Http404("No such integration.")
        if edit and not can(request.user, Capability.EDIT_MAPPING, integration.account):
            raise PermissionDenied
        return integration

    def _context(self, request, integration, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "integration": integration,
            "can_edit": can(request.user, Capability.EDIT_MAPPING, integration.account),
            "title": f"Profile mapping: {integration.display_name}",
            **extra,
        }

    # -- views
    def overview_view(self, request, integration_id: int, upload_form=None, outcome=None):
        integration = self._integration(request, integration_id)
        # The rules JSON of each version can be large; the list needs none of it.
        versions = integration.mapping_versions.select_related("uploaded_by").defer("rules")[:30]
        context = self._context(
            request,
            integration,
            rules=integration.mapping_rules.all()[:RULES_SHOWN],
            rule_count=integration.mapping_rules.count(),
            rules_shown=RULES_SHOWN,
            history=[
                (
                    version,
                    user_display_for_account(
                        user=version.uploaded_by, account=integration.account, viewer=request.user
                    ),
                )
                for version in versions
            ],
            upload_form=upload_form or MappingUploadForm(),
            drafts=integration.mapping_drafts.defer("rules")[:10],
            outcome=outcome,
            max_upload=_size_text(settings.MAPPING_UPLOAD_MAX_BYTES),
            transforms=TRANSFORM_REFERENCE,
        )
        return TemplateResponse(request, "admin/integrations/mapping/overview.html", context)

    def upload_view(self, request, integration_id: int):
        # Before anything reads the body: stop receiving the file once it passes the cap, so
        # an oversized upload is never spooled whole. CSRF is then checked here, not by
        # admin_view, because checking it reads the body (and would freeze the handlers).
        limit = settings.MAPPING_UPLOAD_MAX_BYTES
        request.upload_handlers.insert(0, UploadSizeCapHandler(request, limit=limit))
        return csrf_protect(self._upload)(request, integration_id)

    upload_view.csrf_exempt = True  # checked inside, see above

    def _upload(self, request, integration_id: int):
        integration = self._integration(request, integration_id, edit=True)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        form = MappingUploadForm(request.POST, request.FILES)
        if getattr(request, UploadSizeCapHandler.flag, False):
            limit = _size_text(settings.MAPPING_UPLOAD_MAX_BYTES)
            outcome = ImportOutcome(
                ImportStatus.INVALID, f"The file is larger than {limit}, the limit."
            )
            return self.overview_view(request, integration_id, outcome=outcome)
        if not form.is_valid():
            return self.overview_view(request, integration_id, upload_form=form)
        upload = form.cleaned_data["table"]
        data = upload.read(settings.MAPPING_UPLOAD_MAX_BYTES + 1)
        outcome = mapping_table_stage(
            integration=integration, user=request.user, filename=upload.name or "", data=data
        )
        if outcome.status == ImportStatus.INVALID:
            return self.overview_view(request, integration_id, upload_form=form, outcome=outcome)
        if outcome.status == ImportStatus.UNCHANGED:
            self.message_user(request, outcome.message, messages.INFO)
            return HttpResponseRedirect(
                reverse("admin:integrations_mapping_overview", args=[integration.pk])
            )
        # Valid and new: nothing is live yet; the review publishes it.
        return HttpResponseRedirect(
            reverse("admin:integrations_mapping_review", args=[integration.pk, outcome.draft.pk])
        )

    def template_view(self, request, integration_id: int, file_format: str):
        integration = self._integration(request, integration_id)
        specs = mapping_specs_for(integration=integration) or list(STARTER_SPECS)
        if file_format == "csv":
            response = HttpResponse(table_csv(specs=specs), content_type="text/csv; charset=utf-8")
        elif file_format == "xlsx":
            response = HttpResponse(table_xlsx(specs=specs), content_type=XLSX_CONTENT_TYPE)
        else:
            raise Http404("Unknown format.")
        # A generated name: nothing user-supplied reaches the header.
        filename = f"mapping-{integration.pk}.{file_format}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def preview_view(self, request, integration_id: int):
        integration = self._integration(request, integration_id)
        stored = integration.last_test_profile
        last_test_profile = "" if isinstance(stored, UndecryptableSecret) else (stored or "")
        outcomes = None
        if request.method == "POST":
            form = MappingPreviewForm(request.POST, last_test_profile=last_test_profile)
            if form.is_valid():
                rules = mapping_rules_for(integration=integration)
                outcomes = mapping_explain(profile=form.cleaned_data["profile"], rules=rules)
        else:
            form = MappingPreviewForm(last_test_profile=last_test_profile)
        context = self._context(
            request,
            integration,
            form=form,
            outcomes=outcomes,
            has_last_test_profile=bool(last_test_profile),
            title=f"Preview the mapping: {integration.display_name}",
        )
        return TemplateResponse(request, "admin/integrations/mapping/preview.html", context)

    def review_view(self, request, integration_id: int, draft_id: int):
        integration = self._integration(request, integration_id, edit=True)
        draft = integration.mapping_drafts.filter(pk=draft_id).first()
        overview = reverse("admin:integrations_mapping_overview", args=[integration.pk])
        if draft is None:
            self.message_user(
                request, "This upload was published or discarded already.", messages.INFO
            )
            return HttpResponseRedirect(overview)
        changed_meanwhile = False
        if request.method == "POST":
            if request.POST.get("action") == "discard":
                draft.delete()
                self.message_user(request, f"{draft.filename} was discarded; nothing changed.")
                return HttpResponseRedirect(overview)
            try:
                version = mapping_draft_publish(draft=draft, user=request.user)
            except MappingChangedError:
                changed_meanwhile = True
            else:
                count = len(version.rules)
                self.message_user(
                    request,
                    ngettext(
                        "%(count)d rule from %(file)s is now the mapping.",
                        "%(count)d rules from %(file)s are now the mapping.",
                        count,
                    )
                    % {"count": count, "file": version.filename},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(overview)
        return self._review_page(
            request,
            integration,
            proposed=draft_specs(draft),
            title=f"Review the new mapping: {draft.filename}",
            source=draft,
            action_url=reverse(
                "admin:integrations_mapping_review", args=[integration.pk, draft.pk]
            ),
            changed_meanwhile=changed_meanwhile,
            restoring=None,
        )

    def restore_view(self, request, integration_id: int, version_id: int):
        integration = self._integration(request, integration_id, edit=True)
        version = integration.mapping_versions.filter(pk=version_id).first()
        if version is None:
            raise Http404("No such version.")
        if request.method == "POST":
            mapping_version_restore(version=version, user=request.user)
            self.message_user(
                request,
                f"Version #{version.pk} ({version.filename}) is the mapping again.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse("admin:integrations_mapping_overview", args=[integration.pk])
            )
        return self._review_page(
            request,
            integration,
            proposed=draft_specs(version),
            title=f"Restore version #{version.pk}?",
            source=version,
            action_url=reverse(
                "admin:integrations_mapping_restore", args=[integration.pk, version.pk]
            ),
            changed_meanwhile=False,
            restoring=version,
        )

    def _review_page(self, request, integration, *, proposed, title, source, action_url, **extra):
        current = current_specs(integration)
        current_version = integration.mapping_versions.filter(is_current=True).first()
        context = self._context(
            request,
            integration,
            title=title,
            source=source,
            diff=mapping_diff(current=current, proposed=proposed),
            current_version=current_version,
            current_by=user_display_for_account(
                user=getattr(current_version, "uploaded_by", None),
                account=integration.account,
                viewer=request.user,
            ),
            dry_run=_dry_run(integration, current=current, proposed=proposed),
            action_url=action_url,
            **extra,
        )
        return TemplateResponse(request, "admin/integrations/mapping/review.html", context)


@dataclass(frozen=True)
class DryRunRow:
    """One target, run through the current rules and the proposed ones."""

    target: str
    required: bool
    before: RuleOutcome | None
    after: RuleOutcome | None

    @staticmethod
    def _shown(outcome: RuleOutcome | None):
        if outcome is None:
            return ("no rule",)
        problem = outcome.problem
        return (outcome.value, problem.code if problem else "")

    @property
    def differs(self) -> bool:
        return self._shown(self.before) != self._shown(self.after)


def _last_test_profile(integration: OAuthIntegration) -> Profile | None:
    stored = integration.last_test_profile
    if not stored or isinstance(stored, UndecryptableSecret):
        return None
    try:
        return Profile.from_json(json_loads_bounded(stored))
    except (ValueError, JSONDepthError):
        return None


def _dry_run(
    integration: OAuthIntegration, *, current: list[RuleSpec], proposed: list[RuleSpec]
) -> list[DryRunRow] | None:
    """The last test login's profile through the current and the proposed rules, per target
    (the proposed order, then the targets only the current rules have); None without one."""
    profile = _last_test_profile(integration)
    if profile is None:
        return None
    before = {o.rule.target: o for o in mapping_explain(profile=profile, rules=_compiled(current))}
    after = {o.rule.target: o for o in mapping_explain(profile=profile, rules=_compiled(proposed))}
    targets = [spec.target for spec in proposed]
    targets += [spec.target for spec in current if spec.target not in after]
    return [
        DryRunRow(
            target,
            (after.get(target) or before[target]).rule.required,
            before.get(target),
            after.get(target),
        )
        for target in targets
    ]


def _compiled(specs: list[RuleSpec]):
    return rules_from_rows(rows=specs)
