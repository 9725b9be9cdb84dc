"""Emails as subject/text/html template triplets under templates/emails/. The subject and
the text are rendered without HTML escaping (the "text" template engine), the HTML part
with it."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from ..i18n import user_language
from ..models import Notification

TEXT_ENGINE = "text"


def render_email(template, context):
    """(subject, text, html) of the email ``template`` with ``context``."""
    context = {"site_url": settings.SITE_URL, **context}
    subject = render_to_string(f"emails/{template}_subject.txt", context, using=TEXT_ENGINE)
    text = render_to_string(f"emails/{template}.txt", context, using=TEXT_ENGINE)
    html = render_to_string(f"emails/{template}.html", context)
    return " ".join(subject.split()), text, html


def send_templated(template, *, to, context):
    subject, text, html = render_email(template, context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=to)
    message.attach_alternative(html, "text/html")
    message.send()


def send_notification(notification_id):
    notification = (
        Notification.objects.select_related("user__profile", "lead", "actor")
        .filter(pk=notification_id)
        .first()
    )
    if notification is None or not notification.user.email:
        return
    # In the recipient's language, whoever triggered it and in whatever language.
    with translation.override(user_language(notification.user)):
        send_templated(
            f"notification_{notification.kind}",
            to=[notification.user.email],
            context={"notification": notification, "lead": notification.lead},
        )
