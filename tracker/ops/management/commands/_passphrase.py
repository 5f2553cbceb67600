"""Where `export_all` and `import_all` read the archive passphrase from."""

import getpass
import os
import sys
from pathlib import Path

from django.core.management.base import CommandError

ENV = "MILEPOST_ARCHIVE_PASSPHRASE"


def add_argument(parser) -> None:
    parser.add_argument(
        "--passphrase-file",
        type=Path,
        help=f"Read the passphrase from this file (else ${ENV}, else a prompt).",
    )


def read(passphrase_file: Path | None, *, confirm: bool) -> str:
    if passphrase_file is not None:
        return passphrase_file.read_text().strip()
    if os.environ.get(ENV):
        return os.environ[ENV]
    if not sys.stdin.isatty():
        raise CommandError(f"Give the passphrase with --passphrase-file or ${ENV}.")
    passphrase = getpass.getpass("Archive passphrase: ")
    if confirm and getpass.getpass("Again: ") != passphrase:
        raise CommandError("The passphrases differ.")
    return passphrase
