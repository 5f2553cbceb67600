import json

from django.core.management.base import BaseCommand, CommandError

from tracker.accounts.models import User
from tracker.ops.personal import person_data_export


class Command(BaseCommand):
    help = "Print everything Milepost holds about USERNAME, as JSON."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        self.stdout.write(json.dumps(person_data_export(user=user), ensure_ascii=False, indent=2))
