"""Emails as subject/text/html template triplets under templates/emails/. The subject and
the text are rendered without HTML escaping (the "text" template engine), the HTML part
with it."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from ..i18n import user_language
from ..models import Invitation, Notification
from ..services import invitation_token

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


def send_invitation(invitation_id):
    """The invitation e-mail with its link, unless it was revoked or used meanwhile. The
    link is signed here, from the row, so the outbox never holds the secret."""
    invitation = Invitation.objects.select_related("invited_by").filter(pk=invitation_id).first()
    if invitation is None or invitation.state != "pending":
        return
    path = reverse("invitation_accept", args=[invitation_token(invitation)])
    with translation.override(user_language(invitation.invited_by)):
        send_templated(
            "invitation",
            to=[invitation.email],
            context={"invitation": invitation, "link": f"{settings.SITE_URL}{path}"},
        )


def send_password_reset(user_id):
    """Django's password reset e-mail for one user, its token made here in the worker (so
    the outbox never holds it). Inactive users and users without a usable password get
    none, as Django's form decides."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_usable_password() or not user.email:
        return
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    with translation.override(user_language(user)):
        send_templated(
            "password_reset",
            to=[user.email],
            context={"user": user, "link": f"{settings.SITE_URL}{path}"},
        )
