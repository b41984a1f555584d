"""accounts.permissions, branch by branch."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from accounts.models import Membership, Role
from accounts.permissions import (
    Capability,
    accounts_for,
    can,
    can_anywhere,
    is_platform_staff,
    user_display_for_account,
)
from tests.factories import AccountFactory, UserFactory, make_member, make_staff

pytestmark = pytest.mark.django_db

ADMIN_ONLY = [
    Capability.MANAGE_OAUTH,
    Capability.VIEW_MAPPING,
    Capability.MANAGE_WEBHOOKS,
    Capability.VIEW_SSO_ACTIVITY,
]
STAFF_ONLY = [Capability.EDIT_MAPPING, Capability.MANAGE_ACCOUNTS]


def fresh(user):
    """The user as the next request loads it (what one request learnt of its roles is gone)."""
    return get_user_model().objects.get(pk=user.pk)


def test_anonymous_user_may_do_nothing(account):
    user = AnonymousUser()
    assert not is_platform_staff(user)
    assert not any(can(user, cap, account) for cap in Capability)
    assert not accounts_for(user, Capability.MANAGE_CAMPAIGNS).exists()


def test_superuser_is_platform_staff(account):
    user = UserFactory(is_superuser=True)
    assert is_platform_staff(user)
    assert all(can(user, cap, account) for cap in Capability)


def test_member_of_platform_staff_group_may_do_everything_everywhere(account, other_account):
    staff = make_staff()
    assert is_platform_staff(staff)
    for cap in Capability:
        assert can(staff, cap, account) and can(staff, cap, other_account)
    assert set(accounts_for(staff, Capability.MANAGE_OAUTH)) == {account, other_account}


def test_staff_group_member_without_is_staff_flag_is_not_staff():
    user = make_staff(is_staff=False)
    assert not is_platform_staff(user)


def test_inactive_user_may_do_nothing(account):
    user = make_member(account, Role.ADMINISTRATOR, is_active=False)
    assert not can(user, Capability.MANAGE_CAMPAIGNS, account)


def test_user_without_is_staff_may_not_use_the_admin_even_with_a_role(account):
    user = make_member(account, Role.ADMINISTRATOR, is_staff=False)
    assert not can(user, Capability.MANAGE_CAMPAIGNS, account)


@pytest.mark.parametrize("capability", ADMIN_ONLY + [Capability.MANAGE_CAMPAIGNS])
def test_administrator_of_an_entitled_account(account, admin_user_a, capability):
    assert can(admin_user_a, capability, account)
    assert can(admin_user_a, capability, account.pk)


@pytest.mark.parametrize("capability", STAFF_ONLY)
def test_administrator_cannot_do_staff_things(account, admin_user_a, capability):
    assert not can(admin_user_a, capability, account)


def test_oauth_needs_the_entitlement(admin_user_a, account):
    account.sso_oauth_enabled = False
    account.save()
    admin_user_a = fresh(admin_user_a)  # the next request's user
    assert not can(admin_user_a, Capability.MANAGE_OAUTH, account)
    assert not can(admin_user_a, Capability.MANAGE_OAUTH, account.pk)
    assert not accounts_for(admin_user_a, Capability.MANAGE_OAUTH).exists()
    # Webhooks and campaigns do not depend on the SSO entitlement.
    assert can(admin_user_a, Capability.MANAGE_WEBHOOKS, account)
    assert can(admin_user_a, Capability.MANAGE_CAMPAIGNS, account)


def test_editor_manages_campaigns_only(account, editor_a):
    assert can(editor_a, Capability.MANAGE_CAMPAIGNS, account)
    for cap in ADMIN_ONLY + STAFF_ONLY:
        assert not can(editor_a, cap, account)
    assert not can_anywhere(editor_a, Capability.MANAGE_OAUTH)
    assert can_anywhere(editor_a, Capability.MANAGE_CAMPAIGNS)


def test_role_in_one_account_gives_nothing_in_another(account, other_account, admin_user_a):
    for cap in Capability:
        assert not can(admin_user_a, cap, other_account)
    assert list(accounts_for(admin_user_a, Capability.MANAGE_CAMPAIGNS)) == [account]


def test_inactive_account_gives_nothing(account, admin_user_a):
    account.is_active = False
    account.save()
    admin_user_a = fresh(admin_user_a)  # the next request's user
    assert not can(admin_user_a, Capability.MANAGE_CAMPAIGNS, account)
    assert not accounts_for(admin_user_a, Capability.MANAGE_CAMPAIGNS).exists()


def test_user_with_roles_in_two_accounts(account, other_account):
    user = make_member(account, Role.EDITOR)
    Membership.objects.create(user=user, account=other_account, role=Role.ADMINISTRATOR)
    assert not can(user, Capability.MANAGE_WEBHOOKS, account)
    assert can(user, Capability.MANAGE_WEBHOOKS, other_account)
    assert set(accounts_for(user, Capability.MANAGE_CAMPAIGNS)) == {account, other_account}
    assert list(accounts_for(user, Capability.MANAGE_WEBHOOKS)) == [other_account]


def test_one_membership_per_user_and_account(account, editor_a):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=editor_a, account=account, role=Role.ADMINISTRATOR)


def test_role_is_checked_by_the_database(account):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=UserFactory(), account=account, role="owner")


def test_new_account_has_the_sso_entitlement_off():
    from accounts.models import Account

    assert Account.objects.create(name="New", slug="new").sso_oauth_enabled is False
    assert AccountFactory.build().pk is None


# ---------------------------------------------------------------------------- naming users
def test_customers_see_their_members_by_name_and_anyone_else_as_platform_staff(
    account, admin_user_a, editor_a, admin_user_b
):
    staff = make_staff(username="ops-jane")
    superuser = UserFactory(username="root-jim", is_superuser=True)

    def shown(user):
        return user_display_for_account(user=user, account=account, viewer=admin_user_a)

    assert shown(staff) == "Platform staff"
    assert shown(superuser) == "Platform staff"
    assert shown(admin_user_b) == "Platform staff"  # never another customer's name either
    assert shown(editor_a) == "editor-a"
    assert shown(admin_user_a) == "admin-a"
    editor_a.is_active = False
    editor_a.save()
    assert shown(editor_a) == "editor-a"  # a deactivated colleague is still theirs
    assert shown(None) == "—"


def test_platform_staff_see_every_username(account, admin_user_b):
    viewer = make_staff(username="ops-joe")
    staff = make_staff(username="ops-jane")
    for user in (staff, admin_user_b):
        shown = user_display_for_account(user=user, account=account.pk, viewer=viewer)
        assert shown == user.get_username()


def test_naming_many_users_of_one_account_reads_its_members_once(
    account, admin_user_a, editor_a, django_assert_num_queries
):
    staff = make_staff(username="ops-jane")
    # Whether the viewer is platform staff, then the account's members: once each.
    with django_assert_num_queries(2):
        for user in (staff, editor_a, admin_user_a, staff):
            user_display_for_account(user=user, account=account, viewer=admin_user_a)
