import secrets

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


def new_intake_key():
    return secrets.token_urlsafe(24)


class Channel(models.TextChoices):
    SEARCH_ADS = "search_ads", _("Search ads")
    SOCIAL_ADS = "social_ads", _("Social ads")
    EMAIL = "email", _("Email")
    EVENTS = "events", _("Events")
    CONTENT = "content", _("Content / SEO")
    REFERRAL = "referral", _("Referral")
    PARTNER = "partner", _("Partner")
    OTHER = "other", _("Other")


class Campaign(models.Model):
    name = models.CharField(_("name"), max_length=200)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)
    budget = models.DecimalField(_("budget"), max_digits=12, decimal_places=2, default=0)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="campaigns",
    )
    utm_campaign = models.CharField(_("UTM campaign code"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    intake_key = models.CharField(
        max_length=64, unique=True, default=new_intake_key, editable=False
    )
    # Where the public intake form may send people back to after a post (no open redirect).
    allowed_origin = models.URLField(
        _("website allowed for intake redirects"),
        blank=True,
        help_text=_("e.g. https://www.example.com; intake posts may only redirect there."),
    )
    # The e-mail the person who filled in the campaign's web form gets (campaigns/
    # auto_response.py), in the texts of AutoResponse per language.
    # db_default: rows written by older code (a migration test's historical models) too.
    auto_response_enabled = models.BooleanField(
        _("send an auto-response"), default=False, db_default=False
    )
    # A hand-raiser from the public intake is qualified and handed off by the assignment
    # rules in the intake's own transaction (sales.routing), so it reaches a rep at once.
    route_on_intake = models.BooleanField(
        _("route web-form leads to sales at once"),
        # In the database too: code of an older migration state still inserts campaigns.
        default=False,
        db_default=False,
        help_text=_(
            "New hand-raisers from this campaign's intake form (web form, information "
            "request, phone call, email) skip marketing's triage: they are handed off by "
            "the assignment rules as they arrive."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_date", "name"]
        constraints = [
            models.UniqueConstraint(
                Lower("utm_campaign"),
                condition=~models.Q(utm_campaign=""),
                name="campaign_utm_code_unique_ci",
                violation_error_message=_("Another campaign already uses this UTM code."),
            ),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True)
                | models.Q(end_date__gte=models.F("start_date")),
                name="campaign_end_after_start",
                violation_error_message=_("The end date cannot be before the start date."),
            ),
            models.CheckConstraint(
                condition=models.Q(budget__gte=0),
                name="campaign_budget_not_negative",
                violation_error_message=_("The budget cannot be negative."),
            ),
        ]
        indexes = [
            # Dashboard and campaign list: "campaigns of a channel".
            models.Index(fields=["channel"], name="campaign_channel_idx"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("campaigns:detail", args=[self.pk])


class SpendEntry(models.Model):
    """Money spent on a campaign over a range of local days, both ends inclusive (SPEC §2):
    "1–31 Oct: 4,200". A period's spend is the entries prorated by day (campaigns/spend.py);
    an ad platform's daily report is one entry per day."""

    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="spend_entries",
        verbose_name=_("campaign"),
    )
    start = models.DateField(_("from"))
    end = models.DateField(_("to"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start", "-id"]
        verbose_name = _("spend entry")
        verbose_name_plural = _("spend entries")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")),
                name="spend_entry_end_after_start",
                violation_error_message=_("The end date cannot be before the start date."),
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gte=0),
                name="spend_entry_amount_not_negative",
                violation_error_message=_("Amounts cannot be negative."),
            ),
        ]
        indexes = [
            # campaigns/spend.py spend_by_campaign: the entries of (some) campaigns that
            # overlap a period, summed per campaign (the dashboard, campaign page and list).
            models.Index(fields=["campaign", "start", "end"], name="spend_campaign_dates_idx"),
        ]

    def __str__(self):
        return f"{self.campaign}: {self.start}–{self.end} {self.amount}"

    @property
    def days(self):
        return (self.end - self.start).days + 1


class AutoResponse(models.Model):
    """A campaign's auto-response e-mail in one language: plain text, with placeholders
    such as {first_name} (campaigns/auto_response.py)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="auto_responses")
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"), blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "language"], name="auto_response_one_per_language"
            )
        ]

    def __str__(self):
        return f"{self.campaign} ({self.language})"

    @property
    def is_complete(self):
        return bool(self.subject.strip() and self.body.strip())


def taken_by_another(field, value, campaign=None):
    """Another campaign than ``campaign`` has ``value`` in ``field``, in any case (names and
    UTM codes are unique that way; the forms and the API check it before saving)."""
    others = Campaign.objects.filter(**{f"{field}__iexact": value.strip()})
    if campaign is not None and campaign.pk:
        others = others.exclude(pk=campaign.pk)
    return others.exists()
