"""The dashboard's pre-aggregated statistics (leads/reporting/stats.py)."""

from django.conf import settings
from django.db import models


class CohortStats(models.Model):
    """Pre-aggregated dashboard numbers (leads/reporting/stats.py): one row per creation
    day (site time zone), first-touch campaign, current owner and origin. Rebuilt from the
    raw tables for the days whose leads changed, from the named counts of
    leads/reporting/definitions.py."""

    day = models.DateField()
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, null=True, related_name="cohort_stats"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, related_name="+"
    )
    origin = models.CharField(max_length=10)
    generated = models.PositiveIntegerField(default=0)
    mql = models.PositiveIntegerField(default=0)
    handed_off = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    accepted_handed = models.PositiveIntegerField(default=0)  # accepted and handed off
    contacted = models.PositiveIntegerField(default=0)
    opportunity = models.PositiveIntegerField(default=0)
    won = models.PositiveIntegerField(default=0)
    lost = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    won_value = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    contacted_in_sla = models.PositiveIntegerField(default=0)
    dropped_marketing = models.PositiveIntegerField(default=0)
    dropped_sales = models.PositiveIntegerField(default=0)
    dropped_market = models.PositiveIntegerField(default=0)
    dropped_in_progress = models.PositiveIntegerField(default=0)
    # The same with rule (2) reading only the current owner's own delays (the salesperson
    # filter: leads/reporting/definitions.py dropped_q(own=True)).
    own_dropped_sales = models.PositiveIntegerField(default=0)
    own_dropped_market = models.PositiveIntegerField(default=0)
    own_dropped_in_progress = models.PositiveIntegerField(default=0)
    # Rejections (handoffs) by reason, lost leads by reason, objections heard by tag.
    rej_not_a_fit = models.PositiveIntegerField(default=0)
    rej_no_budget = models.PositiveIntegerField(default=0)
    rej_bad_contact_data = models.PositiveIntegerField(default=0)
    rej_duplicate = models.PositiveIntegerField(default=0)
    rej_spam = models.PositiveIntegerField(default=0)
    rej_not_interested = models.PositiveIntegerField(default=0)
    lost_price = models.PositiveIntegerField(default=0)
    lost_competitor = models.PositiveIntegerField(default=0)
    lost_timing = models.PositiveIntegerField(default=0)
    lost_no_decision = models.PositiveIntegerField(default=0)
    lost_unresponsive = models.PositiveIntegerField(default=0)
    lost_other = models.PositiveIntegerField(default=0)
    obj_price = models.PositiveIntegerField(default=0)
    obj_timing = models.PositiveIntegerField(default=0)
    obj_competitor = models.PositiveIntegerField(default=0)
    obj_no_need = models.PositiveIntegerField(default=0)
    obj_authority = models.PositiveIntegerField(default=0)
    obj_other = models.PositiveIntegerField(default=0)
    mflags_raised = models.PositiveIntegerField(default=0)
    mflags_open = models.PositiveIntegerField(default=0)
    # Speed to lead: the inquiries by the band of minutes from creation to their first
    # attempt and first connect (definitions.SPEED_COLUMNS), and those attempted but still
    # unreached after the policy's N attempts (StatsState.unreached_attempts).
    speed_attempt_within_5_min = models.PositiveIntegerField(default=0)
    speed_attempt_within_1_h = models.PositiveIntegerField(default=0)
    speed_attempt_within_24_h = models.PositiveIntegerField(default=0)
    speed_attempt_over_24_h = models.PositiveIntegerField(default=0)
    speed_attempt_never = models.PositiveIntegerField(default=0)
    speed_connect_within_5_min = models.PositiveIntegerField(default=0)
    speed_connect_within_1_h = models.PositiveIntegerField(default=0)
    speed_connect_within_24_h = models.PositiveIntegerField(default=0)
    speed_connect_over_24_h = models.PositiveIntegerField(default=0)
    speed_connect_never = models.PositiveIntegerField(default=0)
    unreached = models.PositiveIntegerField(default=0)
    # Revenue at risk (definitions.revenue_at_risk): the handed-off leads won and their value,
    # the comparable leads' win rate and deal value.
    won_handed = models.PositiveIntegerField(default=0)
    won_value_handed = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    # The joint SLA's sales side (definitions.responded_in_sla_q, lost_unresponsive_short_q):
    # the handoffs to sales and those answered within their own response time, and the
    # leads lost as unresponsive after fewer than the policy's N attempts.
    handoffs = models.PositiveIntegerField(default=0)
    responded_in_sla = models.PositiveIntegerField(default=0)
    lost_unresponsive_short = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # The dashboard's "rows of a period" (then filtered by campaign/owner).
            models.Index(fields=["day"], name="cohortstats_day_idx"),
            # The campaign list (stats.campaign_totals, stats.campaign_total): a campaign's
            # lifetime sums from the index alone (index-only scan), never the wide rows.
            models.Index(
                fields=["campaign"],
                include=[
                    "generated",
                    "handed_off",
                    "accepted",
                    "accepted_handed",
                    "won",
                    "won_value",
                ],
                name="cohortstats_campaign_sums_idx",
            ),
        ]

    def __str__(self):
        return f"{self.day} campaign {self.campaign_id} owner {self.owner_id}"


class RepStats(models.Model):
    """Pre-aggregated per-rep numbers for the sales scorecard: one row per creation day,
    first-touch campaign and current owner of the leads (for the sales flags: the rep
    responsible for them, so the salesperson filter counts a breach against whoever held
    the lead), and the rep who received the handoffs, logged the follow-ups or is
    responsible for the sales flags."""

    day = models.DateField()
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, null=True, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, related_name="+"
    )
    rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    received = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    false_rejections = models.PositiveIntegerField(default=0)
    overturned = models.PositiveIntegerField(default=0)
    follow_ups = models.PositiveIntegerField(default=0)
    obj_price = models.PositiveIntegerField(default=0)
    obj_timing = models.PositiveIntegerField(default=0)
    obj_competitor = models.PositiveIntegerField(default=0)
    obj_no_need = models.PositiveIntegerField(default=0)
    obj_authority = models.PositiveIntegerField(default=0)
    obj_other = models.PositiveIntegerField(default=0)
    sflags_raised = models.PositiveIntegerField(default=0)
    sflags_open = models.PositiveIntegerField(default=0)
    # Honesty: the rep's contacts (calls, emails, meetings) and those logged late.
    contacts = models.PositiveIntegerField(default=0)
    contacts_late = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # The sales scorecard's "rows of a period".
            models.Index(fields=["day"], name="repstats_day_idx"),
        ]

    def __str__(self):
        return f"{self.day} rep {self.rep_id}"


class AttributionStats(models.Model):
    """Attributed leads, pipeline and won revenue (SPEC §5): one row per creation day,
    first-touch campaign, current owner and origin (CohortStats' keys, so the dashboard's
    filters read the same cohort) and the campaign credited, with every model's share in
    columns (one row for all six models: a rebuild writes a sixth of the rows). Built by
    leads/reporting/stats.py with the other statistics; the parts per lead come from
    leads/reporting/attribution.py and add up to one lead and its deal value exactly."""

    day = models.DateField()
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, null=True, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, related_name="+"
    )
    origin = models.CharField(max_length=10)
    # The campaign the touches credit (None: touches without a campaign).
    credited = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, null=True, related_name="+"
    )
    # Per model of leads/reporting/attribution.py MODELS: the credit in millionths of a
    # lead, the pipeline and the won revenue in cents. Integers, so every sum is exact.
    first_credit = models.BigIntegerField(default=0)
    first_pipeline_cents = models.BigIntegerField(default=0)
    first_won_cents = models.BigIntegerField(default=0)
    last_credit = models.BigIntegerField(default=0)
    last_pipeline_cents = models.BigIntegerField(default=0)
    last_won_cents = models.BigIntegerField(default=0)
    linear_credit = models.BigIntegerField(default=0)
    linear_pipeline_cents = models.BigIntegerField(default=0)
    linear_won_cents = models.BigIntegerField(default=0)
    u_shaped_credit = models.BigIntegerField(default=0)
    u_shaped_pipeline_cents = models.BigIntegerField(default=0)
    u_shaped_won_cents = models.BigIntegerField(default=0)
    w_shaped_credit = models.BigIntegerField(default=0)
    w_shaped_pipeline_cents = models.BigIntegerField(default=0)
    w_shaped_won_cents = models.BigIntegerField(default=0)
    time_decay_credit = models.BigIntegerField(default=0)
    time_decay_pipeline_cents = models.BigIntegerField(default=0)
    time_decay_won_cents = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            # The attribution panel and /api/v1/attribution/: "rows of a period" summed per
            # credited campaign for one model (its three columns on every row).
            models.Index(fields=["day"], name="attributionstats_day_idx"),
        ]

    def __str__(self):
        return f"{self.day} campaign {self.campaign_id} credits {self.credited_id}"


class StatsState(models.Model):
    """The dashboard statistics' watermark: every change before ``refreshed_at`` (less a
    safety overlap) is in CohortStats/RepStats. A single row, locked while refreshing."""

    refreshed_at = models.DateTimeField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    sla_minutes = models.PositiveIntegerField(null=True, blank=True)
    # The policy's "unreachable after N attempts" the ball-dropped counts were built with.
    unreached_attempts = models.PositiveIntegerField(null=True, blank=True)
    # The policy's response threshold the joint SLA's responded_in_sla was built with.
    response_minutes = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self):
        return f"Dashboard statistics as of {self.refreshed_at}"
