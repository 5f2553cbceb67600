from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tracker.ops.archive import ArchiveError, archive_import, read_manifest
from tracker.ops.management.commands import _passphrase


class Command(BaseCommand):
    help = (
        "Restore an `export_all` archive into an empty, migrated database (one transaction; "
        "every table's checksum is verified before it commits)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        _passphrase.add_argument(parser)

    def handle(self, *args, file: Path, passphrase_file, **options):
        try:
            passphrase = None
            if read_manifest(file)["secrets"]["included"]:
                passphrase = _passphrase.read(passphrase_file, confirm=False)
            result = archive_import(path=file, passphrase=passphrase)
        except ArchiveError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Restored {result.rows} rows of {result.tables} tables from {file}")
        if not result.with_secrets:
            self.stdout.write(
                "The archive held no secrets: users have no password (set one with "
                "`manage.py changepassword` or the password reset), API tokens and calendar "
                "feeds must be issued again."
            )
        if result.paused_channels:
            self.stdout.write(
                f"{len(result.paused_channels)} channels are paused until their webhook URL and "
                "secret are entered again (Channels, or the admin): "
                + ", ".join(result.paused_channels)
            )
