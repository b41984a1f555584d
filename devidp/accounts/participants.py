"""Demo participants: Django users with a Profile, created from `demo.py`."""

import datetime
import uuid

from django.contrib.auth import get_user_model
from django.db import transaction

from devidp.accounts.demo import DEMO_PARTICIPANTS, DEMO_PASSWORD
from devidp.accounts.models import Profile

PROFILE_FIELDS = (
    "gender",
    "phone_number",
    "street_address",
    "locality",
    "postal_code",
    "country",
    "locale",
    "optin_newsletter",
    "optin_partners",
    "loyalty_id",
)


@transaction.atomic
def demo_participants_seed() -> list[str]:
    """Create or reset every demo participant (password and profile); returns their usernames."""
    user_model = get_user_model()
    for username, data in DEMO_PARTICIPANTS.items():
        user, _ = user_model.objects.get_or_create(username=username)
        user.first_name = data["first_name"]
        user.last_name = data["last_name"]
        user.email = data["email"]
        user.is_active = True
        if not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
        user.save()
        profile, _ = Profile.objects.get_or_create(
            user=user, defaults={"subject": uuid.UUID(data["subject"])}
        )
        profile.subject = uuid.UUID(data["subject"])
        profile.birthdate = (
            datetime.date.fromisoformat(data["birthdate"]) if data["birthdate"] else None
        )
        for field in PROFILE_FIELDS:
            setattr(profile, field, data[field])
        profile.save()
    return list(DEMO_PARTICIPANTS)
