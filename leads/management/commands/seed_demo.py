import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from leads.demo.seeder import Seeder, reset_demo_data
from leads.models import Lead
from leads.reporting import stats


class Command(BaseCommand):
    help = (
        "Fill the database with realistic, deterministic demo data: users marketer, rep1-3 "
        "and manager, campaigns on every channel, and leads in every stage over the last year."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--leads", type=int, default=2000, help="number of leads (default 2000)"
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--password", default="demo", help="password of the demo users")
        parser.add_argument(
            "--force", action="store_true", help="run even with DEBUG off (never in production)"
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="delete existing leads and campaigns first (users are kept)",
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when the database has leads"
        )

    def handle(self, *args, leads, seed, password, force, reset, if_empty, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo refuses to run with DEBUG off; add --force if you mean it."
            )
        if not 0 <= leads <= 5_000_000:
            raise CommandError("--leads must be between 0 and 5,000,000.")
        if not password:
            raise CommandError("--password must not be empty.")
        has_leads = Lead.objects.exists()
        if has_leads and if_empty:
            self.stdout.write("The database already has leads; not seeding.")
            return
        if has_leads and not reset:
            raise CommandError("The database already has leads; add --reset to replace them.")
        started = time.monotonic()
        if reset:
            reset_demo_data()
        counts = Seeder(leads=leads, seed=seed, password=password, stdout=self.stdout).run()
        seeded = time.monotonic() - started
        stats.rebuild()
        elapsed = time.monotonic() - started
        for model, count in counts.items():
            self.stdout.write(f"  {model._meta.verbose_name_plural}: {count:,}")
        self.stdout.write(
            f"Seeded {leads:,} leads with seed {seed} in {seeded:.1f} s "
            f"(dashboard statistics built; {elapsed:.1f} s in all)."
        )
        self.stdout.write(f"Demo users: marketer, rep1, rep2, rep3, manager; password: {password}")
