"""Campaign changes (SPEC §1: marketers and managers)."""

from django.db import transaction
from django.utils.translation import gettext as _

from leadflow import permissions
from leadflow.errors import ActionForbidden, InvalidInput

from .models import Campaign, new_intake_key

EDITABLE = (
    "name",
    "channel",
    "start_date",
    "end_date",
    "budget",
    "spend",
    "owner",
    "utm_campaign",
    "description",
    "allowed_origin",
    "route_on_intake",
)


def _validate(campaign):
    if campaign.end_date and campaign.end_date < campaign.start_date:
        raise InvalidInput(_("The end date cannot be before the start date."), field="end_date")
    for field in ("budget", "spend"):
        if getattr(campaign, field) is not None and getattr(campaign, field) < 0:
            raise InvalidInput(_("Amounts cannot be negative."), field=field)
    code = (campaign.utm_campaign or "").strip()
    campaign.utm_campaign = code
    if code:
        clash = Campaign.objects.filter(utm_campaign__iexact=code).exclude(pk=campaign.pk)
        if clash.exists():
            raise InvalidInput(_("Another campaign already uses this UTM code."), "utm_campaign")


@transaction.atomic
def campaign_create(*, by, data):
    """Create a campaign from validated form data; the owner defaults to its creator."""
    permissions.require_marketing(by)
    campaign = Campaign(**{k: v for k, v in data.items() if k in EDITABLE})
    if campaign.owner is None:
        campaign.owner = by
    _validate(campaign)
    campaign.save()
    return campaign


@transaction.atomic
def campaign_update(*, campaign, by, data):
    permissions.require_marketing(by)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    for key, value in data.items():
        if key in EDITABLE:
            setattr(campaign, key, value)
    _validate(campaign)
    campaign.save()
    return campaign


@transaction.atomic
def campaign_rotate_key(*, campaign, by):
    """A new secret intake key; the old one stops working at once (intake answers 404)."""
    permissions.require_marketing(by)
    if campaign is None:
        raise ActionForbidden(_("No campaign."))
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    campaign.intake_key = new_intake_key()
    campaign.save(update_fields=["intake_key", "updated_at"])
    return campaign
