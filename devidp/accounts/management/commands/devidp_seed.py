"""Create the demo participants and (optionally) one OAuth client; safe to run again."""

import os
from argparse import BooleanOptionalAction

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from oauth2_provider.models import Application

from devidp.accounts.clients import client_register
from devidp.accounts.demo import DEMO_PARTICIPANTS, DEMO_PASSWORD
from devidp.accounts.participants import demo_participants_seed
from devidp.accounts.pkce import PKCE_CLIENT_ID_PREFIX


class Command(BaseCommand):
    help = (
        "Create or reset the demo participants and, given a client id, a confidential "
        "authorization-code client. Values default to DEVIDP_CLIENT_ID, DEVIDP_CLIENT_SECRET "
        "and DEVIDP_REDIRECT_URIS (space-separated)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--client-id", default=os.environ.get("DEVIDP_CLIENT_ID", ""))
        parser.add_argument("--client-secret", default=os.environ.get("DEVIDP_CLIENT_SECRET", ""))
        parser.add_argument(
            "--redirect-uri",
            action="append",
            dest="redirect_uris",
            help="Exact redirect URI; repeat for several.",
        )
        parser.add_argument(
            "--pkce-required",
            action=BooleanOptionalAction,
            default=None,
            help=f"Demand PKCE (S256) from this client (default: client id starts with "
            f"{PKCE_CLIENT_ID_PREFIX!r}).",
        )
        parser.add_argument(
            "--algorithm",
            choices=[Application.RS256_ALGORITHM, Application.HS256_ALGORITHM],
            default=Application.RS256_ALGORITHM,
        )
        parser.add_argument("--name", default="", help="Shown on the consent page.")
        parser.add_argument(
            "--skip-participants", action="store_true", help="Only register the client."
        )
        parser.add_argument(
            "--base-url",
            default="",
            help="Where the IdP will listen (e.g. http://127.0.0.1:9000): print its URLs.",
        )

    def handle(self, *args, **options):
        if not options["skip_participants"]:
            demo_participants_seed()
        client_id = options["client_id"]
        redirect_uris = (
            options["redirect_uris"] or os.environ.get("DEVIDP_REDIRECT_URIS", "").split()
        )
        pkce_required = options["pkce_required"]
        if pkce_required is None:
            pkce_required = client_id.startswith(PKCE_CLIENT_ID_PREFIX)
        if client_id:
            if not options["client_secret"] or not redirect_uris:
                raise CommandError("A client needs --client-secret and --redirect-uri.")
            try:
                client_register(
                    client_id=client_id,
                    client_secret=options["client_secret"],
                    redirect_uris=redirect_uris,
                    pkce_required=pkce_required,
                    algorithm=options["algorithm"],
                    name=options["name"],
                )
            except ValidationError as error:
                raise CommandError(f"Invalid client: {error.message_dict}") from error
        if options["verbosity"] >= 1:
            self._print_summary(options, redirect_uris, pkce_required)

    def _print_summary(self, options, redirect_uris, pkce_required):
        base_url = options["base_url"].rstrip("/")
        if base_url:
            self.stdout.write(f"Development IdP: {base_url}/")
            self.stdout.write(f"  issuer     {base_url}/o")
            self.stdout.write(f"  discovery  {base_url}/o/.well-known/openid-configuration")
        if not options["skip_participants"]:
            names = ", ".join(DEMO_PARTICIPANTS)
            self.stdout.write(f"  demo participants: {names} (password {DEMO_PASSWORD})")
        if options["client_id"]:
            # The secret is the caller's own, given on the command line: no need to echo it.
            self.stdout.write(
                f"  client {options['client_id']}: redirect URI {' '.join(redirect_uris)}, "
                f"{options['algorithm']}, PKCE "
                f"{'required' if pkce_required else 'optional'}"
            )
