from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Account
from campaigns.models import Campaign
from integrations.fields import EncryptedSecretField
from integrations.models import OAuthIntegration


class Participant(models.Model):
    """A member of the public known by their IdP identity: (issuer or integration, sub)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="participants")
    integration = models.ForeignKey(
        OAuthIntegration, null=True, on_delete=models.SET_NULL, related_name="participants"
    )
    # The issuer when the IdP has one, else "integration:<id>": with `subject` the stable key.
    issuer_key = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "issuer_key", "subject"], name="participant_unique_identity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} @ {self.issuer_key}"


class AttemptOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"


class LoginAttempt(models.Model):
    """One trip to the IdP: the server-side half of the `state` parameter."""

    state_hash = models.CharField(max_length=64, unique=True)
    # SHA-256 of the random value in this browser's binding cookie.
    browser_hash = models.CharField(max_length=64)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="login_attempts")
    integration = models.ForeignKey(
        OAuthIntegration, null=True, on_delete=models.SET_NULL, related_name="login_attempts"
    )
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="login_attempts"
    )
    # What the flow was started with: endpoints, client id, auth method, scope, expected issuer.
    snapshot = models.JSONField(default=dict)
    nonce = models.CharField(max_length=64, blank=True)
    code_verifier = EncryptedSecretField(blank=True)
    return_to = models.CharField(max_length=500, blank=True)
    language = models.CharField(max_length=8, blank=True)
    is_test = models.BooleanField("test login", default=False)
    test_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="tested by",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField("started at", auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=10, choices=AttemptOutcome.choices, default=AttemptOutcome.PENDING
    )
    failed_step = models.CharField(max_length=40, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    # Which page the participant got, and whose failure it was: the integration's
    # configuration, the IdP's or the participant's (participants/login/failures.py, stored
    # when the attempt fails so that the activity log counts and filters by it as it is).
    failure_kind = models.CharField(max_length=30, blank=True)
    failure_class = models.CharField(
        max_length=20,
        blank=True,
        choices=[
            ("configuration", "Configuration"),
            ("idp", "Identity provider"),
            ("participant", "Participant"),
        ],
    )
    # A login that succeeded with less than asked: the userinfo call failed (its error code) and
    # the form was prefilled from the id_token alone (checklist UI-03).
    warning_code = models.CharField(max_length=60, blank=True)
    error_reference = models.CharField(max_length=16, blank=True, db_index=True)
    idp_duration_ms = models.PositiveIntegerField("time at the IdP (ms)", null=True, blank=True)
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Started in the login pop-up of a campaign embedded in a frame: it ends with a ticket for
    # that frame (participants/embedding.py), not in this browser's session.
    embedded = models.BooleanField(default=False)
    embed_session = models.ForeignKey(
        "EmbedSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        # Every login of the public, with its outcome: the admin's "SSO activity" log.
        verbose_name = "login attempt"
        verbose_name_plural = "SSO activity"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome__in=AttemptOutcome.values),
                name="loginattempt_outcome_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(failure_class__in=["", "configuration", "idp", "participant"]),
                name="loginattempt_failure_class_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Login attempt {self.pk}"

    @property
    def abandoned(self) -> bool:
        """Still pending once its time ran out: the participant never came back from the IdP."""
        return self.outcome == AttemptOutcome.PENDING and self.expires_at <= timezone.now()

    @property
    def outcome_shown(self) -> str:
        if self.abandoned:
            return "Abandoned (expired)"
        if self.outcome == AttemptOutcome.PENDING:
            return "In progress"
        return self.get_outcome_display()


class Participation(models.Model):
    """A submitted campaign form."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="participations")
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.SET_NULL, related_name="participations"
    )
    values = models.JSONField(default=dict)  # {variable: submitted value}
    prefilled = models.JSONField(default=dict)  # {variable: value the IdP supplied}
    changed = models.JSONField(default=list)  # variables whose prefilled value was changed
    language = models.CharField(max_length=8, blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)
    # One-time token of the form that was submitted: a double submit cannot create two rows.
    submission_token = models.CharField(max_length=64, unique=True)
    # Set when the campaign allows one participation: the participant's key (IdP identity or
    # browser); unique per campaign.
    once_key = models.CharField(max_length=80, null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        # Statistics and the CSV export read one campaign's participations in time order.
        indexes = [models.Index(fields=["campaign", "submitted_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "once_key"], name="participation_once_per_participant"
            ),
        ]

    def __str__(self) -> str:
        return f"Participation {self.pk} in {self.campaign}"


class RememberedLogin(models.Model):
    """A login kept for a short while (SSO_REMEMBER_SECONDS), so that another campaign of the
    same integration offers "Continue as <first name>" in the same browser session instead of
    another trip to the IdP.

    The session holds a random token; this row its hash, the participant and the IdP profile
    (encrypted, secret-like values redacted), from which "Continue" derives the prefill again
    through the mapping. Erasing the participant deletes it; `purge_login_attempts` deletes the
    expired ones.
    """

    token_hash = models.CharField(max_length=64, unique=True)
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(OAuthIntegration, on_delete=models.CASCADE, related_name="+")
    profile = EncryptedSecretField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"Remembered login {self.pk}"


class ParticipantErasure(models.Model):
    """The record that a participant's data was erased: who, when, in which account and how
    much went. Nothing about the participant: no identity, no e-mail, not even their id."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="participant_erasures"
    )
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    erased_at = models.DateTimeField(auto_now_add=True)
    participations = models.PositiveIntegerField(default=0)
    login_attempts = models.PositiveIntegerField(default=0)
    # Deliveries about the participant taken out of the outbox and the delivery log.
    webhook_deliveries = models.PositiveIntegerField(default=0)
    remembered_logins = models.PositiveIntegerField(default=0)
    # participant.erased events recorded for the account's endpoints.
    erased_events = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-erased_at", "-id"]

    def __str__(self) -> str:
        return f"Participant erasure {self.pk}"


class EmbedSession(models.Model):
    """A participant's way through one campaign inside a customer's frame, where no cookie can
    be relied on: a random token in the frame's addresses and forms (this row holds its hash)
    carries it instead of a session (participants/embedding.py). Short-lived, and good for this
    campaign only."""

    token_hash = models.CharField(max_length=64, unique=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    # SHA-256 of the one form token the frame may post next (CSRF protection without a cookie).
    form_token_hash = models.CharField(max_length=64, blank=True)
    # Set when a ticket from the login pop-up was redeemed; erasing the participant deletes it.
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The IdP's values for the form (JSON), encrypted like every other profile we keep.
    prefill = EncryptedSecretField(blank=True)
    participated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"Embedded visit {self.pk}"


class EmbedTicket(models.Model):
    """What the login pop-up hands the frame: a one-time, short-lived ticket (this row holds its
    hash) that the frame redeems for the login's prefill. Bound to the login attempt that made
    it and to the frame's embedded visit; any other visit that presents it burns it."""

    ticket_hash = models.CharField(max_length=64, unique=True)
    attempt = models.OneToOneField(
        LoginAttempt, on_delete=models.CASCADE, related_name="embed_ticket"
    )
    embed_session = models.ForeignKey(EmbedSession, on_delete=models.CASCADE, related_name="+")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="+")
    # The prefill (JSON, encrypted), emptied once redeemed.
    prefill = EncryptedSecretField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Embed ticket {self.pk}"
