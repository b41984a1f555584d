from django.db import migrations, models

import integrations.models


def fill_callback_keys(apps, schema_editor):
    OAuthIntegration = apps.get_model("integrations", "OAuthIntegration")
    for integration in OAuthIntegration.objects.filter(callback_key__isnull=True).only("pk"):
        integration.callback_key = integrations.models.callback_key_new()
        integration.save(update_fields=["callback_key"])


def mark_shared_callback(apps, schema_editor):
    # Integrations made before per-integration redirect URIs were registered with the shared
    # /oauth/callback at their IdP: keep sending that URI, so that their logins still reach us
    # (the callback then refuses them unless the issuer is verified and sends iss, and the admin
    # says which URL to register instead).
    OAuthIntegration = apps.get_model("integrations", "OAuthIntegration")
    OAuthIntegration.objects.update(use_shared_callback=True)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0005_sign_in_alerts"),
    ]

    operations = [
        migrations.AddField(
            model_name="oauthintegration",
            name="callback_key",
            field=models.CharField(editable=False, max_length=43, null=True),
        ),
        migrations.AddField(
            model_name="oauthintegration",
            name="use_shared_callback",
            field=models.BooleanField(
                choices=[
                    (False, "This integration's own callback URL (recommended)"),
                    (
                        True,
                        "The shared callback URL /oauth/callback (verified issuers that send iss)",
                    ),
                ],
                default=False,
                help_text=(
                    "The shared URL of the original help article is accepted only for an issuer "
                    "verified by the discovery import whose IdP sends the iss parameter."
                ),
                verbose_name="Redirect URI registered at your IdP",
            ),
        ),
        migrations.AddField(
            model_name="oauthintegration",
            name="discovered_settings",
            field=models.JSONField(blank=True, default=dict, editable=False),
        ),
        migrations.RunPython(fill_callback_keys, migrations.RunPython.noop),
        migrations.RunPython(mark_shared_callback, migrations.RunPython.noop),
    ]
