"""Emails as subject/text/html template triplets under templates/emails/."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from ..i18n import user_language
from ..models import Notification


def send_templated(template, *, to, context):
    context = {"site_url": settings.SITE_URL, **context}
    subject = render_to_string(f"emails/{template}_subject.txt", context).strip()
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(subject=" ".join(subject.split()), body=text, to=to)
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
