"""The profile mapping: its rules, its published versions and the draft under review."""

from django.conf import settings
from django.db import models

from integrations.models_common import when
from integrations.oauth.models import OAuthIntegration


# ---------------------------------------------------------------------------- mapping
class MappingRule(models.Model):
    """One row of the mapping table: where a campaign variable's value comes from."""

    integration = models.ForeignKey(
        OAuthIntegration, on_delete=models.CASCADE, related_name="mapping_rules"
    )
    target = models.CharField(
        "field", max_length=63, help_text="The campaign variable's technical name."
    )
    source = models.CharField(max_length=500, help_text="Claim path, e.g. address.postal_code.")
    transform = models.CharField(max_length=500, blank=True)
    fallback = models.CharField(max_length=500, blank=True)
    required = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "target"], name="mappingrule_unique_target"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target} ← {self.source}"


class MappingTableVersion(models.Model):
    """An uploaded mapping table, kept so that staff can see history and restore it."""

    integration = models.ForeignKey(
        OAuthIntegration, on_delete=models.CASCADE, related_name="mapping_versions"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    # The validated rules as a list of {target, source, transform, fallback, required, notes}.
    rules = models.JSONField(default=list)
    is_current = models.BooleanField(default=False)

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.filename or 'mapping'} ({when(self.uploaded_at)})"


class MappingDraft(models.Model):
    """An uploaded table that passed validation, waiting for staff to review it (the differences
    with the current rules, the last test login's profile run through it) and publish it."""

    integration = models.ForeignKey(
        OAuthIntegration, on_delete=models.CASCADE, related_name="mapping_drafts"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    rules = models.JSONField(default=list)
    # The current version the review compared it with: publishing after the mapping changed
    # meanwhile shows the new differences first.
    base_version = models.ForeignKey(
        MappingTableVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return f"Draft {self.filename or 'mapping'} ({when(self.uploaded_at)})"
