"""The scoped admin: every account-owned model's admin derives from `AccountScopedAdmin`.

Access goes through `accounts.permissions`; Django's model permissions are not consulted for
customer users. A user only ever sees, picks or changes objects of accounts in which their role
grants the admin's `capability`.
"""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User

from accounts.models import Account, Membership
from accounts.origins import FrameOriginsField
from accounts.permissions import (
    Capability,
    accounts_for,
    can,
    can_anywhere,
    is_platform_staff,
    user_display_for_account,
)


def account_of(obj, path: str) -> Account | None:
    """Follow `path` ("account", "campaign__account") from obj to its Account."""
    for attr in path.split("__"):
        obj = getattr(obj, attr, None)
        if obj is None:
            return None
    return obj


def account_id_of(obj, path: str) -> int | None:
    """Like `account_of`, but reads the last foreign key's id instead of loading the Account."""
    *through, last = path.split("__")
    for attr in through:
        obj = getattr(obj, attr, None)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id", None)


class UserField:
    """A read-only field or list column showing the user in `name` as `viewer` may see them
    (`user_display_for_account`: to customers, platform staff are "Platform staff").

    Django hands a display callable the object only, so one is made per request for its viewer.
    The admin builds the fieldsets and the read-only fields in separate calls and compares their
    entries, so two made for the same viewer and field are equal.
    """

    def __init__(self, name: str, *, label: str, account_path: str, viewer) -> None:
        self.__name__ = name  # the admin's CSS class and help text lookup use it
        self.short_description = label
        self._account_path = account_path
        self._viewer = viewer

    def __call__(self, obj) -> str:
        return user_display_for_account(
            user=getattr(obj, self.__name__),
            account=account_id_of(obj, self._account_path),
            viewer=self._viewer,
        )

    def _key(self) -> tuple:
        return (self.__name__, self._account_path, self._viewer.pk)

    def __eq__(self, other) -> bool:
        return isinstance(other, UserField) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class AccountScopedMixin:
    """Shared by scoped ModelAdmins and inlines."""

    capability: Capability = Capability.MANAGE_CAMPAIGNS
    # Capability needed to add, change or delete; None = same as `capability`.
    edit_capability: Capability | None = None
    # Lookup from the model to its Account.
    account_path: str = "account"

    def _edit_capability(self) -> Capability:
        return self.edit_capability or self.capability

    def scope_queryset(self, request, queryset):
        if is_platform_staff(request.user):
            return queryset
        allowed = accounts_for(request.user, self.capability)
        return queryset.filter(**{f"{self.account_path}__in": allowed})

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def has_module_permission(self, request):
        return can_anywhere(request.user, self.capability)

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return can_anywhere(request.user, self.capability)
        account = account_of(obj, self.account_path)
        return account is not None and can(request.user, self.capability, account)

    def has_add_permission(self, request, *args):
        return can_anywhere(request.user, self._edit_capability())

    def has_change_permission(self, request, obj=None):
        capability = self._edit_capability()
        if obj is None:
            return can_anywhere(request.user, capability)
        account = account_of(obj, self.account_path)
        return account is not None and can(request.user, capability, account)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """Limit every account-owned choice to the user's accounts."""
        if not is_platform_staff(request.user):
            allowed = accounts_for(request.user, self._edit_capability())
            related = db_field.related_model
            if related is Account:
                kwargs["queryset"] = allowed
            elif any(f.name == "account" for f in related._meta.get_fields()):
                kwargs["queryset"] = related._default_manager.filter(account__in=allowed)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class AccountScopedAdmin(AccountScopedMixin, admin.ModelAdmin):
    """Base ModelAdmin for models with a direct `account` foreign key (or `account_path`)."""

    # Foreign keys to a user that list_display, readonly_fields or the fieldsets name, with their
    # labels: shown through `UserField`, never as the user's own string. A subclass that builds
    # its fieldsets itself passes them through `fieldsets_with_user_fields`.
    user_fields: dict[str, str] = {}

    def _with_user_fields(self, request, names):
        shown = []
        for name in names:
            if isinstance(name, list | tuple):  # several fields on one line of a fieldset
                shown.append(type(name)(self._with_user_fields(request, name)))
            elif isinstance(name, str) and name in self.user_fields:
                label = self.user_fields[name]
                path = self.account_path
                shown.append(UserField(name, label=label, account_path=path, viewer=request.user))
            else:
                shown.append(name)
        return shown

    def get_list_display(self, request):
        return self._with_user_fields(request, super().get_list_display(request))

    def get_readonly_fields(self, request, obj=None):
        return self._with_user_fields(request, super().get_readonly_fields(request, obj))

    def get_fieldsets(self, request, obj=None):
        return self.fieldsets_with_user_fields(request, super().get_fieldsets(request, obj))

    def fieldsets_with_user_fields(self, request, fieldsets):
        return [
            (title, {**options, "fields": self._with_user_fields(request, options["fields"])})
            for title, options in fieldsets
        ]

    # Django's history page names each change's author by username and full name.
    object_history_template = "admin/accounts/scoped_object_history.html"

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        context = getattr(response, "context_data", None) or {}
        if "action_list" in context:  # not a redirect
            account_id = account_id_of(context["object"], self.account_path)
            for action in context["action_list"]:
                action.user_shown = user_display_for_account(
                    user=action.user, account=account_id, viewer=request.user
                )
        return response

    def _single_account(self, request) -> Account | None:
        if is_platform_staff(request.user):
            return None
        accounts = list(accounts_for(request.user, self._edit_capability())[:2])
        return accounts[0] if len(accounts) == 1 else None

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if self.account_path == "account" and self._single_account(request) is not None:
            exclude.append("account")
        # Shown by `UserField` only: never a form field, whose choices would list the users.
        exclude += [name for name in self.user_fields if name not in exclude]
        return exclude

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if self.account_path == "account" and is_platform_staff(request.user):
            filters.insert(0, "account")
        return filters

    def save_model(self, request, obj, form, change):
        if self.account_path == "account" and not obj.account_id:
            obj.account = self._single_account(request)
        super().save_model(request, obj, form, change)


class AccountScopedInline(AccountScopedMixin):
    """Inlines follow their parent's account; use with admin.TabularInline / StackedInline.

    Django hands an inline's permission hooks the *parent* object (or None), never the inline's
    own rows, so the account is the parent's, not the one `account_path` leads to.
    """

    def has_view_permission(self, request, obj=None):
        return self._parent_allows(request, obj, self.capability)

    def has_add_permission(self, request, obj=None):
        return self._parent_allows(request, obj, self._edit_capability())

    def has_change_permission(self, request, obj=None):
        return self._parent_allows(request, obj, self._edit_capability())

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def _parent_allows(self, request, parent, capability: Capability) -> bool:
        account = parent if isinstance(parent, Account) else getattr(parent, "account", None)
        if account is None:
            # No parent yet (add view) or one without an account: any account of the user's.
            return can_anywhere(request.user, capability)
        return can(request.user, capability, account)


class ReadOnlyAdminMixin:
    """A record nobody adds, changes or deletes by hand (statistics, logs, history); viewing
    stays the scoped admin's decision. Put it before the scoped base class."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# ---------------------------------------------------------------------------- platform staff only
class PlatformStaffOnlyMixin:
    """Django's own user and group admins, opened to platform staff by role, not permission."""

    def has_module_permission(self, request):
        return is_platform_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return is_platform_staff(request.user)

    def has_add_permission(self, request, *args):
        return is_platform_staff(request.user)

    def has_change_permission(self, request, obj=None):
        return is_platform_staff(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_platform_staff(request.user)


# ---------------------------------------------------------------------------- Account admin
class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


class AccountAdminForm(forms.ModelForm):
    privacy_policy_url = forms.URLField(
        label="Privacy policy",
        required=False,
        max_length=500,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"class": "vURLField", "size": 70}),
        help_text=Account._meta.get_field("privacy_policy_url").help_text,
    )
    embed_allowed_origins = FrameOriginsField(
        label="Sites that may embed campaigns",
        required=False,
        help_text=Account._meta.get_field("embed_allowed_origins").help_text,
    )

    class Meta:
        model = Account
        # The admin narrows this to what the user may change (AccountAdmin.get_fieldsets).
        fields = [
            "name",
            "slug",
            "is_active",
            "sso_oauth_enabled",
            "privacy_policy_url",
            "participation_retention_days",
            "embed_allowed_origins",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        retention = self.fields.get("participation_retention_days")
        if retention is not None:
            retention.help_text = (
                "Days a campaign's participations are kept after the campaign ends; then they "
                "are deleted. A campaign may set its own. Blank: the platform's default, "
                f"{settings.PARTICIPATION_RETENTION_DAYS} days."
            )


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    """Accounts and their entitlements are platform staff's business. An account's
    Administrators see their own account and change only what it tells participants about their
    data (`PARTICIPANT_DATA_FIELDS`) and which sites may embed its campaigns
    (`EMBEDDING_FIELDS`); everything else stays out of their form."""

    form = AccountAdminForm
    list_display = ["name", "slug", "is_active", "sso_oauth_enabled", "created_at"]
    list_filter = ["is_active", "sso_oauth_enabled"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
    PARTICIPANT_DATA_FIELDS = ["privacy_policy_url", "participation_retention_days"]
    EMBEDDING_FIELDS = ["embed_allowed_origins"]
    EMBEDDING_DESCRIPTION = (
        "The sites that may show your campaigns in a frame, unless a campaign says otherwise. "
        "Each campaign's page in the admin gives the code to paste."
    )
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_active"]}),
        ("Integrations", {"fields": ["sso_oauth_enabled"]}),
        ("Participants' data", {"fields": PARTICIPANT_DATA_FIELDS}),
        ("Embedding", {"fields": EMBEDDING_FIELDS, "description": EMBEDDING_DESCRIPTION}),
    ]
    object_history_template = AccountScopedAdmin.object_history_template
    capability = Capability.MANAGE_PARTICIPANT_DATA

    def has_module_permission(self, request):
        return can_anywhere(request.user, self.capability)

    def has_view_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return can_anywhere(request.user, self.capability)
        return can(request.user, self.capability, obj)

    def has_add_permission(self, request):
        return is_platform_staff(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_platform_staff(request.user)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if is_platform_staff(request.user):
            return queryset
        return queryset.filter(pk__in=accounts_for(request.user, self.capability))

    def get_fieldsets(self, request, obj=None):
        if is_platform_staff(request.user):
            return super().get_fieldsets(request, obj)
        return [
            (None, {"fields": ["name"]}),
            (
                "Participants' data",
                {
                    "fields": self.PARTICIPANT_DATA_FIELDS,
                    "description": "What participants are told about their data, and for how "
                    "long it is kept. Each campaign may set its own.",
                },
            ),
            (
                "Embedding",
                {"fields": self.EMBEDDING_FIELDS, "description": self.EMBEDDING_DESCRIPTION},
            ),
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if is_platform_staff(request.user) else ["name"]

    def get_prepopulated_fields(self, request, obj=None):
        return self.prepopulated_fields if is_platform_staff(request.user) else {}

    def get_inlines(self, request, obj):
        return self.inlines if is_platform_staff(request.user) else []

    def get_list_display(self, request):
        if is_platform_staff(request.user):
            return self.list_display
        return ["name", *self.PARTICIPANT_DATA_FIELDS]

    def get_list_filter(self, request):
        return self.list_filter if is_platform_staff(request.user) else []

    def history_view(self, request, object_id, extra_context=None):
        # Customers see "Platform staff", not a staff member's username (as in AccountScopedAdmin).
        response = super().history_view(request, object_id, extra_context)
        context = getattr(response, "context_data", None) or {}
        for action in context.get("action_list", []):
            action.user_shown = user_display_for_account(
                user=action.user, account=context["object"].pk, viewer=request.user
            )
        return response


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class StaffUserAdmin(PlatformStaffOnlyMixin, UserAdmin):
    pass


@admin.register(Group)
class StaffGroupAdmin(PlatformStaffOnlyMixin, GroupAdmin):
    pass
