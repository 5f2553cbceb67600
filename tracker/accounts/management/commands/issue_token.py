from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tracker.accounts.models import TokenScope, User
from tracker.accounts.services import token_issue


class Command(BaseCommand):
    help = "Issue an API token for USERNAME and print the key (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--scope", choices=TokenScope.values, default=TokenScope.READ)
        parser.add_argument("--expires-days", type=int, default=None, metavar="N")
        parser.add_argument("--name", default="", help="A label to recognise the token by.")

    def handle(self, *args, username, scope, expires_days, name, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        if expires_days is not None and expires_days <= 0:
            raise CommandError("--expires-days must be a positive number of days.")
        try:
            _token, key = token_issue(
                user=user,
                scope=scope,
                expires_in=timedelta(days=expires_days) if expires_days else None,
                name=name or "issue_token",
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(key)
