import uuid

from django.conf import settings
from django.db import models
from oauth2_provider.models import Application


class Profile(models.Model):
    """The profile a demo participant's IdP account holds, beyond Django's User fields."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    # The OIDC `sub`: stable for the user, whatever the database's primary keys.
    subject = models.UUIDField(unique=True, default=uuid.uuid4)
    gender = models.CharField(max_length=20, blank=True)
    birthdate = models.DateField(null=True, blank=True)
    phone_number = models.CharField(max_length=32, blank=True)
    street_address = models.CharField(max_length=200, blank=True)
    locality = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=60, blank=True)
    locale = models.CharField(max_length=10, blank=True)
    optin_newsletter = models.BooleanField(default=False)
    optin_partners = models.BooleanField(default=False)
    loyalty_id = models.CharField(max_length=40, blank=True)

    def __str__(self):
        return f"Profile of {self.user}"


class ClientPolicy(models.Model):
    """What the development IdP demands of one client, beyond DOT's Application."""

    application = models.OneToOneField(Application, on_delete=models.CASCADE)
    pkce_required = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "client policies"

    def __str__(self):
        return f"Policy of {self.application.client_id}"
