from django.conf import settings
from django.core.management.base import BaseCommand

from leadflow.catalogues import compile_catalogues


class Command(BaseCommand):
    help = (
        "Compile the translation catalogues of LOCALE_PATHS (.po) into .mo files in pure "
        "Python, without GNU gettext; only those whose .po changed unless --force. "
        "Django's compilemessages does the same with msgfmt where gettext is installed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="compile every catalogue")

    def handle(self, *args, force, **options):
        compiled = compile_catalogues(settings.LOCALE_PATHS, force=force)
        for path in compiled:
            self.stdout.write(f"compiled {path.relative_to(settings.BASE_DIR)}")
        if not compiled:
            self.stdout.write("translations are up to date")
