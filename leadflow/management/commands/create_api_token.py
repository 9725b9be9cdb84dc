from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from leadflow.errors import LeadflowError
from leadflow.services import api_token_create


class Command(BaseCommand):
    help = (
        "Create a personal API token for USERNAME and print it (the last word of the output). "
        "It is shown only this once; the database keeps its SHA-256 digest."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for")

    def handle(self, *args, username, name, **options):
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        try:
            _row, token = api_token_create(user=user, name=name or "created with manage.py")
        except LeadflowError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"API token for {username} (shown once): {token}")
