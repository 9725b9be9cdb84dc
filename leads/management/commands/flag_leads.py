from django.core.management.base import BaseCommand

from leads.models import FlagKind
from leads.sweep import drain_flag_outbox, sweep_flags


class Command(BaseCommand):
    help = (
        "Run one sweep: raise and resolve the SLA flags of SPEC §4 and print the counts per "
        "kind. With --notify, also send the notifications of newly raised flags."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--notify",
            action="store_true",
            help="drain the notification outbox here instead of leaving it to the worker",
        )

    def handle(self, *args, notify=False, **options):
        result = sweep_flags()
        width = max(len(kind.value) for kind in FlagKind)
        self.stdout.write(f"{'flag':<{width}}  {'raised':>7}  {'resolved':>8}")
        for kind in FlagKind:
            raised, resolved = result.raised[kind.value], result.resolved[kind.value]
            self.stdout.write(f"{kind.value:<{width}}  {raised:>7,}  {resolved:>8,}")
        self.stdout.write(
            f"{'total':<{width}}  {result.total_raised:>7,}  {result.total_resolved:>8,}"
        )
        if result.repointed:
            self.stdout.write(
                f"{result.repointed:,} open flag(s) moved to a new responsible user."
            )
        if notify:
            sent = 0
            while True:
                drained = drain_flag_outbox()
                sent += drained.notified
                if drained.failed:
                    self.stderr.write(
                        f"Sending failed; {len(drained.failed)} flag(s) stay in the outbox."
                    )
                    break
                if not drained.more:
                    break
            self.stdout.write(f"Notified {sent:,} flag(s).")
        elif result.total_raised:
            self.stdout.write("Newly raised flags are notified by the worker (or use --notify).")
