"""Campaign changes (SPEC §1: marketers and managers)."""

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leadflow import permissions
from leadflow.errors import ActionForbidden, InvalidInput
from leadflow.i18n import lazy_text
from leadflow.jobs import enqueue
from leadflow.models import NotificationKind
from leadflow.notifications.notify import campaign_people, notify
from leads.models import Stage, TouchSource
from leads.services import lead_intake_in_transaction

from .auto_response import check_placeholders, form_language
from .models import AutoResponse, Campaign, new_intake_key

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


@transaction.atomic
def campaign_set_auto_response(*, campaign, by, enabled, texts):
    """Switch a campaign's auto-response on or off and set its texts: ``texts`` maps a
    language code to (subject, text). Placeholders other than the known ones are refused."""
    permissions.require_marketing(by)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    languages = dict(settings.LANGUAGES)
    for language, (subject, body) in texts.items():
        if language not in languages:
            raise InvalidInput(_("Choose a language of the site."), field="language")
        check_placeholders(subject, f"subject_{language}")
        check_placeholders(body, f"body_{language}")
        AutoResponse.objects.update_or_create(
            campaign=campaign,
            language=language,
            defaults={"subject": " ".join(subject.split()), "body": body.strip()},
        )
    if enabled and not any(r.is_complete for r in campaign.auto_responses.all()):
        raise InvalidInput(
            _("Write a subject and a text in at least one language to send an auto-response."),
            field="enabled",
        )
    campaign.auto_response_enabled = bool(enabled)
    campaign.save(update_fields=["auto_response_enabled", "updated_at"])
    return campaign


def stays_with_marketing_after_intake(lead):
    """A new web-form lead is still marketing's to triage once the intake is done: it was
    not routed straight to sales (issue 18's "route web-form leads to sales at once"), so
    the campaign owner should hear of it."""
    return lead.stage == Stage.NEW


def notify_new_hand_raiser(lead):
    """Tell the campaign's owner (the managers when it has none) of a new web-form lead."""
    text = lazy_text(
        gettext_lazy("%(type)s via %(campaign)s"),
        type=lead.get_inquiry_type_display(),
        campaign=lead.campaign.name,
    )
    for user in campaign_people(lead.campaign):
        notify(user=user, kind=NotificationKind.NEW_HAND_RAISER, lead=lead, text=text, email=True)


@transaction.atomic
def intake_submit(*, campaign, data, inquiry_type, utm, message, language="", sla=None):
    """One post of a campaign's public web form (campaigns/intake.py, after its honeypot
    and validation), in one transaction: the inquiry is logged by
    ``leads.services.lead_intake_in_transaction`` (no savepoint of its own), and a new lead
    (not a second inquiry that became a touch) notifies the campaign owner, unless it left
    marketing at once, and gets the campaign's auto-response in the form's ``language``
    (else the site's), once, through the outbox. Routing straight to sales belongs between
    the two, before :func:`stays_with_marketing_after_intake` is asked."""
    result = lead_intake_in_transaction(
        by=None,
        data=data,
        campaign=campaign,
        inquiry_type=inquiry_type,
        source=TouchSource.INTAKE,
        utm=utm,
        message=message,
        sla=sla,
    )
    if result.created:
        lead = result.lead
        if stays_with_marketing_after_intake(lead):
            notify_new_hand_raiser(lead)
        if campaign.auto_response_enabled and lead.email:
            enqueue("campaigns.tasks.send_auto_response", lead.pk, form_language(language))
    return result
