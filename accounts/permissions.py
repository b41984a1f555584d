"""The one place that answers "may this user do X in this account?".

Customer users are `is_staff` only so that they can open the admin; their role in an account
(`Membership.role`), not Django model permissions, decides what they may do. Platform staff
(superusers, or members of the "Platform staff" group) may do everything everywhere.
"""

from enum import Enum

from django.db.models import QuerySet

from accounts.models import Account, Membership, Role

PLATFORM_STAFF_GROUP = "Platform staff"


class Capability(Enum):
    """What a user may want to do inside an account."""

    # Build campaigns, their forms, and read their statistics.
    MANAGE_CAMPAIGNS = "manage_campaigns"
    # Configure the OAuth 2.0 integration (needs the account's entitlement).
    MANAGE_OAUTH = "manage_oauth"
    # See the account's integrations read-only, with why logins are off: stays with the
    # Administrators when platform staff switch the account or its entitlement off.
    VIEW_OAUTH = "view_oauth"
    # Read the profile mapping (and download the template); editing is staff only.
    VIEW_MAPPING = "view_mapping"
    # Upload or edit profile mappings.
    EDIT_MAPPING = "edit_mapping"
    # Configure webhooks, read their deliveries.
    MANAGE_WEBHOOKS = "manage_webhooks"
    # Read the SSO activity log.
    VIEW_SSO_ACTIVITY = "view_sso_activity"
    # Participants' data: the account's privacy policy and retention period; find, export and
    # erase one participant. Not tied to the SSO entitlement: the data outlives it. Also the
    # other account-wide setting Administrators keep: the sites that may embed campaigns.
    MANAGE_PARTICIPANT_DATA = "manage_participant_data"
    # Create accounts, switch entitlements on, manage memberships.
    MANAGE_ACCOUNTS = "manage_accounts"


# Which roles grant which capability. Capabilities absent here are staff only.
_ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.ADMINISTRATOR: frozenset(
        {
            Capability.MANAGE_CAMPAIGNS,
            Capability.MANAGE_OAUTH,
            Capability.VIEW_OAUTH,
            Capability.VIEW_MAPPING,
            Capability.MANAGE_WEBHOOKS,
            Capability.VIEW_SSO_ACTIVITY,
            Capability.MANAGE_PARTICIPANT_DATA,
        }
    ),
    Role.EDITOR: frozenset({Capability.MANAGE_CAMPAIGNS}),
}
# Capabilities that also need the account's "SSO using OAuth 2.0" entitlement.
_NEEDS_OAUTH_ENTITLEMENT = frozenset(
    {Capability.MANAGE_OAUTH, Capability.VIEW_MAPPING, Capability.VIEW_SSO_ACTIVITY}
)


# Capabilities that hold in an inactive account too (everything else ends with the account).
_INACTIVE_ACCOUNT_CAPABILITIES = frozenset({Capability.VIEW_OAUTH})


def is_platform_staff(user) -> bool:
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_platform_staff_cache", None)
    if cached is None:
        cached = user.groups.filter(name=PLATFORM_STAFF_GROUP).exists()
        user._platform_staff_cache = cached
    return cached


def _memberships(user) -> dict[int, tuple[str, bool]]:
    """{account_id: (role, account is active)}, cached on the user object."""
    cached = getattr(user, "_account_roles_cache", None)
    if cached is None:
        cached = {
            account_id: (role, is_active)
            for account_id, role, is_active in Membership.objects.filter(user=user).values_list(
                "account_id", "role", "account__is_active"
            )
        }
        user._account_roles_cache = cached
    return cached


def _entitled(account_id: int) -> bool:
    return Account.objects.filter(pk=account_id, sso_oauth_enabled=True).exists()


def role_in(user, account: Account | int, *, inactive: bool = False) -> str | None:
    """The user's role in the account (an active one unless `inactive`), or None."""
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return None
    account_id = account if isinstance(account, int) else account.pk
    role, is_active = _memberships(user).get(account_id, (None, False))
    return role if is_active or inactive else None


def can(user, capability: Capability, account: Account | int) -> bool:
    """May `user` do `capability` in `account`?"""
    if is_platform_staff(user):
        return True
    role = role_in(user, account, inactive=capability in _INACTIVE_ACCOUNT_CAPABILITIES)
    if role is None or capability not in _ROLE_CAPABILITIES.get(role, frozenset()):
        return False
    if capability in _NEEDS_OAUTH_ENTITLEMENT:
        if isinstance(account, Account):
            return account.sso_oauth_enabled
        return _entitled(account)
    return True


def accounts_for(user, capability: Capability) -> QuerySet[Account]:
    """The accounts in which `user` may do `capability`."""
    if is_platform_staff(user):
        return Account.objects.all()
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return Account.objects.none()
    roles = [role for role, caps in _ROLE_CAPABILITIES.items() if capability in caps]
    accounts = Account.objects.filter(memberships__user=user, memberships__role__in=roles)
    if capability not in _INACTIVE_ACCOUNT_CAPABILITIES:
        accounts = accounts.filter(is_active=True)
    if capability in _NEEDS_OAUTH_ENTITLEMENT:
        accounts = accounts.filter(sso_oauth_enabled=True)
    return accounts.distinct()


def can_anywhere(user, capability: Capability) -> bool:
    """Does `user` have `capability` in at least one account? (admin index visibility)"""
    if is_platform_staff(user):
        return True
    # Cached on the user object (one per request), like its roles: the admin asks once for each
    # model of its sidebar, on every page.
    cache = getattr(user, "_can_anywhere_cache", None)
    if cache is None:
        cache = {}
        if user is not None and user.is_authenticated:
            user._can_anywhere_cache = cache
    if capability not in cache:
        cache[capability] = accounts_for(user, capability).exists()
    return cache[capability]


# How customers see someone who is not a member of their account.
PLATFORM_STAFF_NAME = "Platform staff"


def _member_ids(viewer, account_id: int) -> frozenset[int]:
    """The ids of the account's members, cached on the viewer's user object (one per request):
    a list names many users of the same account."""
    cache = getattr(viewer, "_account_members_cache", None)
    if cache is None:
        cache = viewer._account_members_cache = {}
    if account_id not in cache:
        cache[account_id] = frozenset(
            Membership.objects.filter(account_id=account_id).values_list("user_id", flat=True)
        )
    return cache[account_id]


def user_display_for_account(*, user, account: Account | int, viewer) -> str:
    """The name under which `viewer` sees `user`, who did something in `account` (uploaded a
    mapping, ran a test login).

    Platform staff see every username. Customers see the usernames of the account's members, a
    deactivated one included, and "Platform staff" for anyone else: the platform's staff are not
    theirs to know by name.
    """
    if user is None:
        return "—"
    account_id = account if isinstance(account, int) else account.pk
    if is_platform_staff(viewer) or user.pk in _member_ids(viewer, account_id):
        return user.get_username()
    return PLATFORM_STAFF_NAME


def administrator_emails(account: Account) -> list[str]:
    """Where to tell an account's Administrators something (a webhook disabled, logins failing):
    the addresses of its active Administrators that have one."""
    return list(
        account.memberships.filter(role=Role.ADMINISTRATOR, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
