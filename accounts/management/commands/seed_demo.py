"""Seed the demo data idempotently: running it twice changes nothing."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Account, Membership, Role
from accounts.permissions import PLATFORM_STAFF_GROUP

DEMO_PASSWORD = "demo-password-123"
DEMO_USERS = [
    # username, role (None = platform staff)
    ("staff", None),
    ("admin", Role.ADMINISTRATOR),
    ("editor", Role.EDITOR),
]


class Command(BaseCommand):
    help = "Create the demo account, users and campaign (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        account, _ = Account.objects.get_or_create(
            slug="demo", defaults={"name": "Demo Customer", "sso_oauth_enabled": True}
        )
        User = get_user_model()
        for username, role in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_staff": True, "email": f"{username}@example.com"}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            if role is None:
                user.groups.add(Group.objects.get(name=PLATFORM_STAFF_GROUP))
            else:
                Membership.objects.get_or_create(
                    user=user, account=account, defaults={"role": role}
                )
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write("Admin: http://127.0.0.1:8000/admin/")
        for username, role in DEMO_USERS:
            label = "platform staff" if role is None else role.label
            self.stdout.write(f"  {username} / {DEMO_PASSWORD}  ({label})")
