"""Notifications posted to Slack and Microsoft Teams incoming webhooks.

A person sets their channels on their profile (a manager can set them for anyone); each
notification they get is then also posted there as a line of text with a link, as a
delivery of its own (leadflow/webhooks/delivery.py: the outbox, retries, the address
check at every send). :func:`post_to_channels` takes anything with the two URL fields of
:class:`leadflow.models.ChatChannels`, so a team's channel is posted to the same way.
"""

import uuid

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .. import jobs
from ..i18n import user_language
from ..models import DeliveryChannel, Profile, WebhookDelivery
from .events import DELIVER_TASK

CHAT_EVENT = "notification"


def _slack_escape(text):
    # Slack's mrkdwn reads <, > and & as markup: https://api.slack.com/reference/surfaces/formatting
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(text, link, link_label):
    line = _slack_escape(text)
    if link:
        line += f" <{link}|{_slack_escape(link_label)}>"
    return {"text": line}


def teams_payload(text, link, link_label):
    """An Adaptive Card message, which both Teams' incoming webhooks and its Workflows
    ("post to a channel when a webhook request is received") accept."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [{"type": "TextBlock", "text": text, "wrap": True}],
    }
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": link_label, "url": link}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


PAYLOADS = {DeliveryChannel.SLACK: slack_payload, DeliveryChannel.TEAMS: teams_payload}


def channels_of(owner):
    """[(channel, url)] of a profile or a team (a ChatChannels), those that are set."""
    return [
        (channel, url)
        for channel, url in (
            (DeliveryChannel.SLACK, getattr(owner, "slack_webhook_url", "")),
            (DeliveryChannel.TEAMS, getattr(owner, "teams_webhook_url", "")),
        )
        if url
    ]


def post_to_channels(owner, *, text, link=""):
    """Queue ``text`` (with ``link``, absolute) for each chat channel ``owner`` has, in the
    caller's transaction. ``owner``: a Profile, or a team with the ChatChannels fields
    (the chat channel of a team). Returns the deliveries."""
    now = timezone.now()
    deliveries = []
    for channel, url in channels_of(owner):
        delivery = WebhookDelivery.objects.create(
            channel=channel,
            url=url,
            event_id=uuid.uuid4(),
            event_type=CHAT_EVENT,
            payload=PAYLOADS[channel](text, link, _("Open in LeadFlow")),
            created_at=now,
            next_attempt_at=now,
        )
        jobs.enqueue(DELIVER_TASK, delivery.pk, 1)
        deliveries.append(delivery)
    return deliveries


def _profile(user):
    try:
        return user.profile
    except Profile.DoesNotExist:
        return None


def post_notification(notification):
    """Post an in-app notification to its user's chat channels, in their language."""
    profile = _profile(notification.user)
    if profile is None or not channels_of(profile):
        return []
    with translation.override(user_language(notification.user)):
        parts = [notification.get_kind_display()]
        if notification.lead is not None:
            parts.append(str(notification.lead))
        text = ": ".join(parts)
        if notification.text:
            text += f". {notification.text}"
        link = settings.SITE_URL + notification.url if notification.url.startswith("/") else ""
        return post_to_channels(profile, text=text, link=link)
