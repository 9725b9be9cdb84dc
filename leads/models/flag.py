"""Flags the sweep raises and resolves, and the sweep's own bookkeeping (SPEC §4)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .lead import Lead, Side


class FlagKind(models.TextChoices):
    NEW_UNTRIAGED = "new_untriaged", _("New lead not triaged")
    MQL_WAITING = "mql_waiting", _("MQL waiting for handoff")
    REJECTION_UNACTIONED = "rejection_unactioned", _("Rejection not actioned")
    RESPONSE_OVERDUE = "response_overdue", _("Response overdue")
    FIRST_CONTACT_OVERDUE = "first_contact_overdue", _("First contact overdue")
    FOLLOW_UP_OVERDUE = "follow_up_overdue", _("Follow-up overdue")
    STALLED = "stalled", _("Stalled")
    UNCONVERTED = "unconverted", _("Unconverted")
    # The escalation ladder after response_overdue (SPEC §4).
    RESPONSE_ESCALATED = "response_escalated", _("Response overdue: escalated")
    RESPONSE_REASSIGNED = "response_reassigned", _("Response overdue: reassigned by the rules")
    # An open opportunity whose expected close date has passed (the pipeline, SPEC §3).
    CLOSE_DATE_PASSED = "close_date_passed", _("Close date passed")


FLAG_SIDE = {
    FlagKind.NEW_UNTRIAGED: Side.MARKETING,
    FlagKind.MQL_WAITING: Side.MARKETING,
    FlagKind.REJECTION_UNACTIONED: Side.MARKETING,
    FlagKind.RESPONSE_OVERDUE: Side.SALES,
    FlagKind.FIRST_CONTACT_OVERDUE: Side.SALES,
    FlagKind.FOLLOW_UP_OVERDUE: Side.SALES,
    FlagKind.STALLED: Side.SALES,
    FlagKind.UNCONVERTED: Side.SALES,
    FlagKind.RESPONSE_ESCALATED: Side.SALES,
    FlagKind.RESPONSE_REASSIGNED: Side.SALES,
    FlagKind.CLOSE_DATE_PASSED: Side.SALES,
}

# The lead deadline column each flag kind compares with now.
FLAG_DEADLINE = {
    FlagKind.NEW_UNTRIAGED: "triage_due_at",
    FlagKind.MQL_WAITING: "mql_due_at",
    FlagKind.REJECTION_UNACTIONED: "rejection_due_at",
    FlagKind.RESPONSE_OVERDUE: "response_due_at",
    FlagKind.FIRST_CONTACT_OVERDUE: "contact_due_at",
    FlagKind.FOLLOW_UP_OVERDUE: "follow_up_due_at",
    FlagKind.STALLED: "stale_due_at",
    FlagKind.UNCONVERTED: "convert_due_at",
    FlagKind.RESPONSE_ESCALATED: "escalation_due_at",
    FlagKind.RESPONSE_REASSIGNED: "reassign_due_at",
    FlagKind.CLOSE_DATE_PASSED: "close_due_at",
}


class FlagQuerySet(models.QuerySet):
    def open(self):
        return self.filter(resolved_at__isnull=True)

    def raised_since(self, when):
        return self.filter(raised_at__gte=when)

    def missed_by(self, user, since):
        """Open flags on ``user``'s own leads with them responsible, raised since ``since``:
        the rep's Today "missed" section (flag_open_resp_raised_idx)."""
        return self.open().raised_since(since).filter(responsible=user, lead__owner=user)

    def attach_open(self, leads):
        """Set ``lead.open_flags`` (oldest first) on each lead of a page: one query. The
        flags carry what their badges show (``flag_badges``: kind, side, when raised)."""
        leads = list(leads)
        by_lead = {lead.pk: [] for lead in leads}
        if by_lead:
            flags = (
                self.open().filter(lead_id__in=by_lead).only("lead", "kind", "side", "raised_at")
            )
            for flag in flags.order_by("raised_at", "pk"):
                by_lead[flag.lead_id].append(flag)
        for lead in leads:
            lead.open_flags = by_lead[lead.pk]
        return leads


class Flag(models.Model):
    """A problem the sweep found. Resolved flags stay, with resolved_at, for history."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="flags")
    kind = models.CharField(max_length=30, choices=FlagKind.choices)
    side = models.CharField(max_length=10, choices=Side.choices)
    # None means "the managers" (a queued lead, or a campaign without owner).
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="flags",
    )
    due_at = models.DateTimeField(null=True, blank=True)
    # The lead's created_at (which never changes), so the lead list can walk the open
    # flags of one kind in the lead list's own order (flag_open_kind_created_idx).
    lead_created_at = models.DateTimeField(null=True, blank=True)
    raised_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Closed by a claim or reassign that took the lead from its responsible user, not by
    # acting on it: the breach stays on their record (SPEC §4).
    closed_as_breach = models.BooleanField(
        default=False, db_default=False
    )  # the sweep inserts in SQL
    notified_at = models.DateTimeField(null=True, blank=True)
    # A drain of the notification outbox holds the flag until then (leads/sweep/outbox.py).
    notify_lease_until = models.DateTimeField(null=True, blank=True)

    objects = FlagQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            # Two sweeps racing cannot both raise the same flag: the second INSERT conflicts.
            models.UniqueConstraint(
                fields=["lead", "kind"],
                condition=Q(resolved_at__isnull=True),
                name="flag_one_open_per_lead_kind",
            ),
        ]
        indexes = [
            # Lead list "open flag of kind K", newest (or oldest) leads first: walked in
            # order and joined to the leads, instead of probing every lead for a flag.
            models.Index(
                fields=["kind", "lead_created_at", "lead"],
                condition=Q(resolved_at__isnull=True),
                name="flag_open_kind_created_idx",
            ),
            # The sweep's resolve queries and the list's "open flag kind" filter.
            models.Index(
                fields=["kind", "lead"],
                condition=Q(resolved_at__isnull=True),
                name="flag_open_kind_idx",
            ),
            # The team page: "each rep's open flags on the sales side" (one grouped query).
            models.Index(
                fields=["responsible", "side"],
                condition=Q(resolved_at__isnull=True),
                name="flag_open_responsible_idx",
            ),
            # The rep's Today: "my open flags raised since yesterday, newest first".
            models.Index(
                fields=["responsible", "raised_at"],
                condition=Q(resolved_at__isnull=True),
                name="flag_open_resp_raised_idx",
            ),
            # Notification outbox: "raised, not yet notified".
            models.Index(
                fields=["raised_at"], condition=Q(notified_at__isnull=True), name="flag_outbox_idx"
            ),
            # Lead timeline and dashboard "flags ever raised for a lead".
            models.Index(fields=["lead", "kind"], name="flag_lead_kind_idx"),
            # Dashboard statistics refresh: "flags raised / resolved since the watermark".
            models.Index(fields=["raised_at"], name="flag_raised_idx"),
            models.Index(fields=["resolved_at"], name="flag_resolved_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on lead {self.lead_id}"

    def save(self, *args, **kwargs):
        # The sweep inserts flags in SQL with this copy; rows made one by one get it here.
        if self.lead_created_at is None and self.lead_id is not None:
            self.lead_created_at = self.lead.created_at
        super().save(*args, **kwargs)

    # Badges show these for every open flag of a page (the inbox: 100+); an enum lookup
    # instead of Django's generic display, which rebuilds the choices per call.
    def get_kind_display(self):
        return FlagKind(self.kind).label if self.kind in FlagKind.values else self.kind

    def get_side_display(self):
        return Side(self.side).label if self.side in Side.values else self.side

    @property
    def is_open(self):
        return self.resolved_at is None


class SweepRun(models.Model):
    """One completed sweep (leads/sweep/flags.py): its ``now`` is the next incremental sweep's
    watermark, and the SLA page shows the latest. Rows older than a week are pruned."""

    at = models.DateTimeField()
    full = models.BooleanField(default=False)
    raised = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # "The latest sweep" and "the latest full sweep" (the watermarks), and pruning.
            models.Index(fields=["at"], name="sweeprun_at_idx"),
        ]

    def __str__(self):
        return f"{'Full' if self.full else 'Incremental'} sweep at {self.at:%Y-%m-%d %H:%M:%S}"
