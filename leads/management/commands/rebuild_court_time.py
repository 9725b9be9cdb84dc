from django.core.management.base import BaseCommand

from leads.services import COURT_REBUILD_BATCH, court_time_rebuild


class Command(BaseCommand):
    help = (
        "Recompute every lead's court time (minutes with marketing, with sales, parked and "
        "closed; SPEC §3) from the stage log, in locked batches. The lifecycle keeps it "
        "current; run this after migrating existing data, or to repair it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch", type=int, default=COURT_REBUILD_BATCH, help="leads per transaction"
        )

    def handle(self, *args, batch, **options):
        fixed = court_time_rebuild(batch=max(1, batch))
        self.stdout.write(f"Rebuilt court time: {fixed} lead(s) changed.")
