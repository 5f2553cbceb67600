"""`manage.py import_history FILE --name NAME --kind campaign --d-day "2025-11-11 00:00"
--owner USER [--template CODE] [--threshold 0.10]`: load a past project from an export, closed
and baselined with its completion times, raising no alerts (an operator's act: no actor)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tracker.accounts.models import User
from tracker.integrations.spreadsheets.historical import project_import_historical
from tracker.integrations.spreadsheets.importing import SpreadsheetError
from tracker.projects.models import ProjectKind, ProjectTemplate


class Command(BaseCommand):
    help = gettext_lazy(
        "Import a past project from a CSV/XLSX export: closed, baselined, no alerts."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help=gettext_lazy("The .csv or .xlsx file."))
        parser.add_argument("--name", required=True, help=gettext_lazy("The project's name."))
        parser.add_argument(
            "--kind", required=True, choices=ProjectKind.values, help=gettext_lazy("Its kind.")
        )
        parser.add_argument(
            "--d-day",
            required=True,
            help=gettext_lazy("Its D-day, local time, e.g. 2025-11-11 00:00 (it has passed)."),
        )
        parser.add_argument("--owner", required=True, help=gettext_lazy("The owner's user name."))
        parser.add_argument("--template", help=gettext_lazy("The template's code."))
        parser.add_argument("--threshold", help=gettext_lazy("The deviation threshold, e.g. 0.10."))

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("No file %(path)s.") % {"path": path})
        d_day = parse_datetime(options["d_day"].replace("/", "-"))
        if d_day is None:
            raise CommandError(_("--d-day: write 2025-11-11 00:00."))
        if timezone.is_naive(d_day):
            d_day = timezone.make_aware(d_day)
        owner = User.objects.filter(username=options["owner"], is_active=True).first()
        if owner is None:
            raise CommandError(_("No active user %(name)s.") % {"name": options["owner"]})
        template = None
        if options["template"]:
            template = ProjectTemplate.objects.filter(code=options["template"]).first()
            if template is None:
                raise CommandError(_("No template %(code)s.") % {"code": options["template"]})
        threshold = None
        if options["threshold"] is not None:
            try:
                threshold = Decimal(options["threshold"])
            except InvalidOperation as error:
                raise CommandError(_("--threshold: a share such as 0.10.")) from error
        try:
            project = project_import_historical(
                actor=None,
                filename=path.name,
                content=path.read_bytes(),
                name=options["name"],
                kind=options["kind"],
                d_day=d_day,
                owner=owner,
                template=template,
                deviation_threshold=threshold,
            )
        except SpreadsheetError as error:
            raise CommandError(
                _("Nothing was imported: %(problems)s")
                % {"problems": "; ".join(str(e) for e in error.errors)}
            ) from error
        except ValidationError as error:
            raise CommandError(
                _("Nothing was imported: %(problems)s") % {"problems": " ".join(error.messages)}
            ) from error
        self.stdout.write(
            _("Imported %(project)s (#%(id)s): %(count)s nodes, closed and baselined.")
            % {"project": project.name, "id": project.pk, "count": project.milestones.count()}
        )
