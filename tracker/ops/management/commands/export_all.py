from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tracker.ops.archive import ArchiveError, archive_export
from tracker.ops.management.commands import _passphrase


class Command(BaseCommand):
    help = (
        "Write every Milepost table to FILE (a zip archive, see docs/deploy.md). Credentials "
        "are left out unless --with-secrets, which encrypts them with a passphrase."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--with-secrets", action="store_true")
        _passphrase.add_argument(parser)

    def handle(self, *args, file: Path, with_secrets: bool, passphrase_file, **options):
        passphrase = _passphrase.read(passphrase_file, confirm=True) if with_secrets else None
        try:
            result = archive_export(path=file, passphrase=passphrase)
        except ArchiveError as error:
            raise CommandError(str(error)) from error
        secrets = "with encrypted secrets" if result.with_secrets else "without secrets"
        self.stdout.write(
            f"Exported {result.rows} rows of {result.tables} tables {secrets} to {file}"
        )
