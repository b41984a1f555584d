"""Re-encrypt every encrypted column with the newest key of FIELD_ENCRYPTION_KEY.

Rotation: put the new key first (`FIELD_ENCRYPTION_KEY=new,old`), deploy, run this command,
then remove the old key. The command works on the raw column values (read and written with SQL,
not through the model fields), so a value is never decrypted into a model instance, and each
row is only rewritten if it still holds the ciphertext that was read (a concurrent save wins).

Values no configured key can decrypt are left untouched and listed; the command then exits with
an error, because removing the old key now would make them unusable.
"""

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils.translation import ngettext
from encrypted_model_fields.fields import EncryptedMixin

from integrations.fields import reencrypt


def encrypted_columns():
    """(model, field) for every encrypted field of every installed model."""
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedMixin):
                yield model, field


class Command(BaseCommand):
    help = "Re-encrypt all encrypted secrets with the newest key of FIELD_ENCRYPTION_KEY."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be re-encrypted without writing anything.",
        )

    def handle(self, *args, dry_run=False, **options):
        keys = settings.FIELD_ENCRYPTION_KEY
        newest = Fernet(keys if isinstance(keys, str) else keys[0])
        undecryptable: list[str] = []
        total_rotated = total_current = 0
        for model, field in encrypted_columns():
            rotated, current, failed = self._rotate_column(model, field, newest, dry_run)
            total_rotated += rotated
            total_current += current
            undecryptable += [f"{model._meta.label}.{field.name} id={pk}" for pk in failed]
            self.stdout.write(
                f"{model._meta.label}.{field.name}: {rotated} re-encrypted, "
                f"{current} already on the newest key, {len(failed)} undecryptable"
            )
        verb = "would be re-encrypted" if dry_run else "re-encrypted"
        self.stdout.write(
            self.style.SUCCESS(
                ngettext("%(count)d value %(verb)s", "%(count)d values %(verb)s", total_rotated)
                % {"count": total_rotated, "verb": verb}
                + f", {total_current} already on the newest key."
            )
        )
        if undecryptable:
            for where in undecryptable:
                self.stderr.write(f"Cannot decrypt {where}")
            raise CommandError(
                ngettext(
                    "%(count)d value cannot be decrypted with any configured key. ",
                    "%(count)d values cannot be decrypted with any configured key. ",
                    len(undecryptable),
                )
                % {"count": len(undecryptable)}
                + "Keep the old keys until these secrets are entered again."
            )

    def _rotate_column(self, model, field, newest: Fernet, dry_run: bool):
        table = connection.ops.quote_name(model._meta.db_table)
        column = connection.ops.quote_name(field.column)
        pk_column = connection.ops.quote_name(model._meta.pk.column)
        rotated = current = 0
        failed = []
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {pk_column}, {column} FROM {table} "  # noqa: S608 (quoted names)
                    f"WHERE {column} IS NOT NULL AND {column} <> ''"
                )
                rows = cursor.fetchall()
            for pk, token in rows:
                try:
                    newest.decrypt(token.encode())
                except InvalidToken:
                    pass
                else:
                    current += 1
                    continue
                try:
                    new_token = reencrypt(token)
                except InvalidToken:
                    failed.append(pk)
                    continue
                rotated += 1
                if not dry_run:
                    with connection.cursor() as cursor:
                        cursor.execute(
                            f"UPDATE {table} SET {column} = %s "  # noqa: S608 (quoted names)
                            f"WHERE {pk_column} = %s AND {column} = %s",
                            [new_token, pk, token],
                        )
        return rotated, current, failed
