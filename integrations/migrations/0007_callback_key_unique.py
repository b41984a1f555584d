# A migration of its own: PostgreSQL refuses to alter a table in the transaction that updated
# its rows while deferred foreign-key checks are pending.
from django.db import migrations, models

import integrations.models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0006_callback_key_and_verified_issuer"),
    ]

    operations = [
        migrations.AlterField(
            model_name="oauthintegration",
            name="callback_key",
            field=models.CharField(
                default=integrations.models.callback_key_new,
                editable=False,
                max_length=43,
                unique=True,
            ),
        ),
    ]
