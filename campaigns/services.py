"""Campaign changes (SPEC §1: marketers and managers)."""

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
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
from .models import AutoResponse, Campaign, SpendEntry, new_intake_key
from .spend import CENT

EDITABLE = (
    "name",
    "channel",
    "start_date",
    "end_date",
    "budget",
    "owner",
    "utm_campaign",
    "description",
    "allowed_origin",
    "route_on_intake",
)


def _validate(campaign):
    if campaign.end_date and campaign.end_date < campaign.start_date:
        raise InvalidInput(_("The end date cannot be before the start date."), field="end_date")
    if campaign.budget is not None and campaign.budget < 0:
        raise InvalidInput(_("Amounts cannot be negative."), field="budget")
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
    if data.get("spend") is not None:
        _set_total_spend(campaign, data["spend"], by)
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
    if data.get("spend") is not None:
        _set_total_spend(campaign, data["spend"], by)
    return campaign


# --- spend (SPEC §2: entries with a date range and an amount; campaigns/spend.py) -------

MAX_AMOUNT = Decimal("9999999999.99")  # Decimal(12, 2)


def _check_entry(start, end, amount):
    if start is None or end is None:
        raise InvalidInput(_("Give the first and the last day."), field="start")
    if end < start:
        raise InvalidInput(_("The end date cannot be before the start date."), field="end")
    if amount is None:
        raise InvalidInput(_("Give an amount."), field="amount")
    if amount < 0:
        raise InvalidInput(_("Amounts cannot be negative."), field="amount")
    if amount > MAX_AMOUNT:
        raise InvalidInput(_("The amount is too large."), field="amount")
    if amount != amount.quantize(CENT):
        raise InvalidInput(_("Give the amount in whole cents."), field="amount")


def campaign_dates(campaign):
    """The days "set the total" spreads a campaign's spend over: its start to its end, or
    to today while it has none (never before its start)."""
    return campaign.start_date, max(campaign.start_date, campaign.end_date or timezone.localdate())


def _set_total_spend(campaign, amount, by):
    amount = Decimal(amount)
    start, end = campaign_dates(campaign)
    _check_entry(start, end, amount)
    campaign.spend_entries.all().delete()
    if amount:
        SpendEntry.objects.create(
            campaign=campaign,
            start=start,
            end=end,
            amount=amount,
            created_by=by,
            note=_("Total spend set on the campaign"),
        )


@transaction.atomic
def spend_entry_add(*, campaign, by, start, end, amount, note=""):
    """Record money spent on a campaign from ``start`` to ``end`` (local days, both
    inclusive); a period's spend takes the part of it that falls inside (prorated by day)."""
    permissions.require_marketing(by)
    amount = Decimal(amount)
    _check_entry(start, end, amount)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    return SpendEntry.objects.create(
        campaign=campaign,
        start=start,
        end=end,
        amount=amount,
        note=(note or "").strip()[:200],
        created_by=by,
    )


@transaction.atomic
def spend_entry_delete(*, entry, by):
    permissions.require_marketing(by)
    SpendEntry.objects.filter(pk=entry.pk).delete()


@transaction.atomic
def spend_import(*, by, rows):
    """Write the good rows of a spend CSV (campaigns/spend_csv.py ``SpendRow``s): one entry
    per campaign per day. A row for a day that campaign already has a one-day entry for
    replaces it, so uploading a corrected daily report again does not count it twice.
    Returns the number of entries written."""
    permissions.require_marketing(by)
    if not rows:
        return 0
    for row in rows:
        _check_entry(row.day, row.day, row.amount)
    campaigns = {row.campaign.pk for row in rows}
    wanted = {(row.campaign.pk, row.day) for row in rows}
    # Lock the campaigns, then take out the one-day entries the file replaces.
    list(Campaign.objects.select_for_update().filter(pk__in=campaigns).values_list("pk"))
    one_day = SpendEntry.objects.filter(
        campaign__in=campaigns, start=F("end"), start__in={day for _c, day in wanted}
    ).values_list("pk", "campaign", "start")
    stale = [pk for pk, campaign, day in one_day if (campaign, day) in wanted]
    SpendEntry.objects.filter(pk__in=stale).delete()
    note = _("CSV upload")
    SpendEntry.objects.bulk_create(
        [
            SpendEntry(
                campaign=row.campaign,
                start=row.day,
                end=row.day,
                amount=row.amount,
                note=note,
                created_by=by,
            )
            for row in rows
        ],
        batch_size=1000,
    )
    return len(rows)


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
    """Tell the campaign's owner (the managers when it has none) of a new web-form lead.
    The text is built only when somebody is told (most public posts: nobody)."""
    people = campaign_people(lead.campaign)
    if not people:
        return
    text = lazy_text(
        gettext_lazy("%(type)s via %(campaign)s"),
        type=lead.get_inquiry_type_display(),
        campaign=lead.campaign.name,
    )
    for user in people:
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
