"""The joint SLA (SPEC §5): the monthly targets a manager sets for marketing, the pass
mark both sides are judged by, and the months whose scorecard was mailed."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from campaigns.models import Channel

# The pass mark when no manager has set one: the share of leads that must meet a time.
DEFAULT_PASS_PERCENT = 90


class MarketingTarget(models.Model):
    """Accepted leads per month for one campaign or one channel, in force from ``month``
    (its first day) until a later target of the same campaign or channel; kept, so a past
    month is judged by the target in force then."""

    month = models.DateField(_("from month"))
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="targets",
        verbose_name=_("campaign"),
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, blank=True)
    accepted_leads = models.PositiveIntegerField(_("accepted leads per month"))
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    set_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(campaign__isnull=False) & Q(channel=""))
                | (Q(campaign__isnull=True) & ~Q(channel="")),
                name="target_campaign_xor_channel",
            ),
            models.UniqueConstraint(
                fields=["month", "campaign"],
                condition=Q(campaign__isnull=False),
                name="target_one_per_campaign_month",
            ),
            models.UniqueConstraint(
                fields=["month", "channel"],
                condition=Q(campaign__isnull=True),
                name="target_one_per_channel_month",
            ),
        ]

    def __str__(self):
        return f"{self.campaign or self.channel} from {self.month:%Y-%m}: {self.accepted_leads}"


class JointSLATerms(models.Model):
    """Marketing's maximum rejection rate and the share that must meet each sales time
    (response, first attempt, attempts before lost as unresponsive; the times themselves
    are the SLA policy's), in force from ``month`` until a later row."""

    month = models.DateField(_("from month"), unique=True)
    max_rejection_percent = models.DecimalField(
        _("maximum rejection rate (%)"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    pass_percent = models.DecimalField(
        _("share that must meet the time (%)"),
        max_digits=5,
        decimal_places=2,
        default=DEFAULT_PASS_PERCENT,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    set_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(max_rejection_percent__gte=0, max_rejection_percent__lte=100)
                & Q(pass_percent__gte=0, pass_percent__lte=100),
                name="joint_sla_terms_percent_range",
            ),
        ]

    def __str__(self):
        return f"Joint SLA terms from {self.month:%Y-%m}"


class JointSLAMailing(models.Model):
    """A month whose scorecard was mailed: the monthly mailing sends each month once."""

    month = models.DateField(unique=True)
    sent_at = models.DateTimeField()
    recipients = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"Joint SLA scorecard {self.month:%Y-%m} mailed {self.sent_at}"
