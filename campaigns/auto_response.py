"""A campaign's auto-response: the e-mail the person who filled in its web form gets, as
Salesforce's web-to-lead auto-response rules send it.

The text is plain text a marketer writes, with a few placeholders ({first_name}, …) that
are filled in as they are: nothing is HTML-escaped in it (the HTML part escapes them).
Only the names in PLACEHOLDERS are replaced; anything else in braces is refused when the
text is saved, so no format-string trick reaches an attribute of the lead."""

import re

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone
from django.utils.html import escape, linebreaks
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leadflow.errors import InvalidInput
from leadflow.i18n import LANGUAGE_CODES
from leadflow.names import person
from leads.models import Lead

PLACEHOLDERS = {
    "first_name": gettext_lazy("the person's first name"),
    "last_name": gettext_lazy("the person's last name"),
    "full_name": gettext_lazy("first and last name"),
    "company": gettext_lazy("their company"),
    "campaign": gettext_lazy("the campaign's name"),
    "owner": gettext_lazy("the campaign owner's name"),
}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
IN_BRACES = re.compile(r"\{([^{}]*)\}")


def unknown_placeholders(text):
    return sorted({name for name in IN_BRACES.findall(text) if name not in PLACEHOLDERS})


def check_placeholders(text, field):
    unknown = unknown_placeholders(text)
    if unknown:
        raise InvalidInput(
            _("Unknown placeholder %(names)s; use %(known)s.")
            % {
                "names": ", ".join(f"{{{name}}}" for name in unknown),
                "known": ", ".join(f"{{{name}}}" for name in PLACEHOLDERS),
            },
            field=field,
        )


def fill(text, lead):
    """``text`` with its placeholders replaced by the lead's values, as they are."""
    values = {
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "full_name": " ".join(filter(None, [lead.first_name, lead.last_name])),
        "company": lead.company,
        "campaign": lead.campaign.name if lead.campaign else "",
        "owner": person(lead.campaign.owner) if lead.campaign else "",
    }
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def form_language(value):
    """The language a web form says it is in ("nl", "nl-NL", "NL"), else the site's."""
    code = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGE_CODES else settings.LANGUAGE_CODE


def text_for(campaign, language):
    """The campaign's auto-response in ``language``, else in the site's language; None when
    it sends none (switched off, or no complete text in either)."""
    if not campaign.auto_response_enabled:
        return None
    texts = {r.language: r for r in campaign.auto_responses.all() if r.is_complete}
    return texts.get(language) or texts.get(settings.LANGUAGE_CODE)


def message_for(lead, response):
    subject = " ".join(fill(response.subject, lead).split())
    body = fill(response.body, lead)
    owner = lead.campaign.owner
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        to=[lead.email],
        # A reply reaches the person behind the campaign, not a no-reply box.
        reply_to=[owner.email] if owner is not None and owner.email else None,
    )
    message.attach_alternative(linebreaks(escape(body)), "text/html")
    return message


@transaction.atomic
def auto_response_send(*, lead_id, language):
    """Send the lead's campaign auto-response, once per lead ever: the lead is locked and
    ``auto_response_sent_at`` is set in the transaction that sends, so a task delivered
    twice sends once, and a failed send (rolled back) is retried by the outbox. Returns
    True when it sent."""
    lead = (
        Lead.objects.select_for_update(of=("self",))
        .select_related("campaign", "campaign__owner")
        .filter(pk=lead_id)
        .first()
    )
    if lead is None or lead.auto_response_sent_at is not None or not lead.email:
        return False
    response = text_for(lead.campaign, language) if lead.campaign else None
    if response is None:
        return False
    message_for(lead, response).send()
    Lead.objects.filter(pk=lead.pk).update(auto_response_sent_at=timezone.now())
    return True
