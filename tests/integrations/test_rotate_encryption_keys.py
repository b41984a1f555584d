"""`manage.py rotate_encryption_keys`: every encrypted column moves to the newest key."""

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from integrations.fields import UndecryptableSecret
from integrations.models import OAuthIntegration, WebhookEndpoint
from participants.models import LoginAttempt
from tests.factories import OAuthIntegrationFactory

pytestmark = pytest.mark.django_db

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def _raw(model, field: str, pk) -> str:
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.get_field(field).column)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.fixture
def secrets_under_the_old_key(settings, account):
    settings.FIELD_ENCRYPTION_KEY = [OLD]
    integration = OAuthIntegrationFactory(
        account=account, client_secret="client-s3cret", last_test_profile='{"sub": "1"}'
    )
    webhook = WebhookEndpoint.objects.create(
        account=account,
        url="https://hooks.example.com/in",
        secret="whsec_abc",
        auth_secret="bearer-t0ken",
    )
    attempt = LoginAttempt.objects.create(
        state_hash="s" * 64,
        browser_hash="b" * 64,
        account=account,
        integration=integration,
        code_verifier="v" * 43,
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    return [
        (OAuthIntegration, "client_secret", integration.pk, "client-s3cret"),
        (OAuthIntegration, "last_test_profile", integration.pk, '{"sub": "1"}'),
        (WebhookEndpoint, "secret", webhook.pk, "whsec_abc"),
        (WebhookEndpoint, "auth_secret", webhook.pk, "bearer-t0ken"),
        (LoginAttempt, "code_verifier", attempt.pk, "v" * 43),
    ]


def test_rotation_with_two_keys_then_the_old_key_removed(
    settings, secrets_under_the_old_key, capsys
):
    settings.FIELD_ENCRYPTION_KEY = [NEW, OLD]
    call_command("rotate_encryption_keys")
    out = capsys.readouterr().out
    assert "5 values re-encrypted" in out
    assert "integrations.OAuthIntegration.client_secret: 1 re-encrypted" in out

    for model, field, pk, plaintext in secrets_under_the_old_key:
        raw = _raw(model, field, pk)
        assert Fernet(NEW).decrypt(raw.encode()).decode() == plaintext
        with pytest.raises(InvalidToken):
            Fernet(OLD).decrypt(raw.encode())

    # The old key is gone; everything still decrypts through the models.
    settings.FIELD_ENCRYPTION_KEY = [NEW]
    for model, field, pk, plaintext in secrets_under_the_old_key:
        assert getattr(model.objects.get(pk=pk), field) == plaintext

    # A second run has nothing left to do.
    call_command("rotate_encryption_keys")
    assert "0 values re-encrypted, 5 already on the newest key" in capsys.readouterr().out


def test_dry_run_writes_nothing(settings, secrets_under_the_old_key, capsys):
    before = [_raw(m, f, pk) for m, f, pk, _ in secrets_under_the_old_key]
    settings.FIELD_ENCRYPTION_KEY = [NEW, OLD]
    call_command("rotate_encryption_keys", "--dry-run")
    assert "5 values would be re-encrypted" in capsys.readouterr().out
    assert [_raw(m, f, pk) for m, f, pk, _ in secrets_under_the_old_key] == before


def test_undecryptable_values_are_listed_and_left_alone(
    settings, secrets_under_the_old_key, capsys
):
    integration_pk = secrets_under_the_old_key[0][2]
    lost_key = Fernet.generate_key()
    orphan = Fernet(lost_key).encrypt(b"nobody can read me").decode()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE integrations_oauthintegration SET client_secret = %s WHERE id = %s",
            [orphan, integration_pk],
        )
    settings.FIELD_ENCRYPTION_KEY = [NEW, OLD]
    with pytest.raises(CommandError, match="1 value"):
        call_command("rotate_encryption_keys")
    captured = capsys.readouterr()
    assert f"integrations.OAuthIntegration.client_secret id={integration_pk}" in captured.err
    assert "nobody can read me" not in captured.out + captured.err
    assert _raw(OAuthIntegration, "client_secret", integration_pk) == orphan
    # The others were rotated all the same.
    assert Fernet(NEW).decrypt(
        _raw(WebhookEndpoint, "secret", secrets_under_the_old_key[2][2]).encode()
    )
    integration = OAuthIntegration.objects.get(pk=integration_pk)
    assert isinstance(integration.client_secret, UndecryptableSecret)
