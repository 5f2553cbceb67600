"""`manage.py load_calendar_year FILE [--year YYYY]`: load a year's official schedule of
holidays and make-up workdays from a CSV (`date,kind,name`) or JSON file, all or nothing."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracker.workcal.services import calendar_file_parse, calendar_year_load


class Command(BaseCommand):
    help = "Load a year's official holidays and make-up workdays from a CSV or JSON file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--year", type=int, help="Refuse the file unless it is this year's.")

    def handle(self, *args, file: Path, year: int | None, **options) -> None:
        try:
            text = file.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"{file}: {exc.strerror}") from exc
        try:
            lines = calendar_file_parse(text=text, filename=file.name)
        except ValidationError as error:
            raise CommandError(
                f"{file} was not loaded:\n" + "\n".join(f"  {m}" for m in error.messages)
            ) from error
        if year is not None and lines[0].date.year != year:
            raise CommandError(f"{file} is for {lines[0].date.year}, not {year}; not loaded.")
        official = calendar_year_load(lines=lines, source=file.name)
        holidays = sum(line.kind == "holiday" for line in lines)
        self.stdout.write(
            f"Loaded the official calendar for {official.year}: {holidays} days off, "
            f"{len(lines) - holidays} make-up workdays."
        )
