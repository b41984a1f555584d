from django.core.management.base import BaseCommand, CommandError

from participants.retention import DEFAULT_BATCH_SIZE, participations_purge


class Command(BaseCommand):
    help = (
        "Delete the participations of campaigns that ended longer ago than they keep them "
        "(the campaign's retention, else its account's, else PARTICIPATION_RETENTION_DAYS), "
        "then the participants left without any participation and not seen for longer than a "
        "session lasts. Run daily by campaign-sso-purge.timer."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be deleted; delete nothing.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows deleted per statement (default {DEFAULT_BATCH_SIZE}).",
        )

    def handle(self, *, dry_run: bool, batch_size: int, verbosity: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        result = participations_purge(dry_run=dry_run, batch_size=batch_size)
        verb = "would be deleted" if dry_run else "deleted"
        if dry_run:
            self.stdout.write("Dry run: nothing was deleted.")
        if verbosity >= 2:
            for expired in result.campaigns:
                self.stdout.write(
                    f"  {expired.campaign.slug} (account {expired.campaign.account.slug}): "
                    f"ended {expired.ended:%Y-%m-%d}, kept {expired.days} days, "
                    f"{expired.participations} participations"
                )
        self.stdout.write(
            f"Participations: {result.participations} {verb}, from {len(result.campaigns)} "
            "campaigns past their retention period."
        )
        self.stdout.write(
            f"Participants: {result.participants} {verb}, left without any participation."
        )
