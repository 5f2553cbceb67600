from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from tracker.accounts.models import User
from tracker.ops.personal import person_erase


class Command(BaseCommand):
    help = "Erase USERNAME's personal data on their request (anonymise; history is kept)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--by", required=True, metavar="STAFF", help="The staff member acting.")

    def handle(self, *args, username: str, by: str, **options):
        user = User.objects.filter(username=username).first()
        actor = User.objects.filter(username=by).first()
        if user is None or actor is None:
            raise CommandError(f"No user named {username if user is None else by!r}.")
        try:
            result = person_erase(actor=actor, user=user)
        except PermissionDenied as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{username} is now {result.username}: {result.history_entries_kept} history entries "
            f"kept, {result.emails_deleted} emails deleted. Still to reassign: "
            f"{result.open_nodes_assigned} open nodes, {result.departments_led} departments led, "
            f"{result.projects_owned} projects owned."
        )
