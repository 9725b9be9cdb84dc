from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from leads.models import Flag, FlagKind
from leads.sweep.flags import sweep_flags
from leads.sweep.outbox import drain_flag_outbox


class Command(BaseCommand):
    help = (
        "Run one full sweep: raise and resolve the SLA flags of SPEC §4 and print the counts "
        "per kind. Newly raised flags are notified by the worker, or here with --notify."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--notify",
            action="store_true",
            help="send the notifications of raised flags here instead of leaving it to the worker",
        )
        parser.add_argument(
            "--mark-notified",
            action="store_true",
            help=(
                "mark every raised flag as notified without sending anything (a first run "
                "over existing data: raise the backlog without a flood of emails)"
            ),
        )
        parser.add_argument(
            "--incremental",
            action="store_true",
            help="only look at what changed since the last sweep (what beat runs in between)",
        )

    def handle(self, *args, notify, mark_notified, incremental, **options):
        if notify and mark_notified:
            raise CommandError("Use --notify or --mark-notified, not both.")
        result = sweep_flags(full=None if incremental else True)
        width = max(len(kind.value) for kind in FlagKind)
        kind_of_sweep = "full" if result.full else "incremental"
        self.stdout.write(f"{kind_of_sweep} sweep at {result.now.isoformat()}")
        self.stdout.write(f"{'flag':<{width}}  {'raised':>7}  {'resolved':>8}")
        for kind in FlagKind:
            raised, resolved = result.raised[kind.value], result.resolved[kind.value]
            self.stdout.write(f"{kind.value:<{width}}  {raised:>7,}  {resolved:>8,}")
        self.stdout.write(
            f"{'total':<{width}}  {result.total_raised:>7,}  {result.total_resolved:>8,}"
        )
        if result.repointed:
            self.stdout.write(
                f"{result.repointed:,} open flag(s) now with a new responsible user."
            )
        if mark_notified:
            marked = Flag.objects.filter(notified_at__isnull=True).update(
                notified_at=timezone.now()
            )
            self.stdout.write(f"Marked {marked:,} flag(s) as notified; nothing was sent.")
        elif notify:
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
