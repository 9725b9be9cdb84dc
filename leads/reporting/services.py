"""The joint SLA's writes (SPEC §5): a manager's targets and terms, and the monthly
mailing of the scorecard to both teams through the outbox."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation

from leadflow import roles
from leadflow.i18n import user_language
from leadflow.jobs import enqueue_many
from leadflow.notifications.emails import send_templated
from leadflow.permissions import require_manager

from ..models import JointSLAMailing, JointSLATerms, MarketingTarget
from . import joint_sla

User = get_user_model()


@transaction.atomic
def target_set(*, by, month, accepted_leads, campaign=None, channel=""):
    """Set marketing's accepted-leads target of ``campaign`` or ``channel`` (one of the
    two) from ``month`` on; one already set for that month and scope is replaced, earlier
    months keep theirs. Managers only."""
    require_manager(by)
    if (campaign is None) == (not channel):
        raise ValueError("a target is for one campaign or one channel")
    month = joint_sla.month_start(month)
    target, _created = MarketingTarget.objects.update_or_create(
        month=month,
        campaign=campaign,
        channel="" if campaign is not None else channel,
        defaults={"accepted_leads": accepted_leads, "set_by": by},
    )
    return target


@transaction.atomic
def terms_set(*, by, month, max_rejection_percent, pass_percent):
    """Set marketing's maximum rejection rate and the sales pass mark from ``month`` on
    (percentages 0–100); the same month set again is replaced. Managers only."""
    require_manager(by)
    terms, _created = JointSLATerms.objects.update_or_create(
        month=joint_sla.month_start(month),
        defaults={
            "max_rejection_percent": max_rejection_percent,
            "pass_percent": pass_percent,
            "set_by": by,
        },
    )
    return terms


def scorecard_recipients():
    """Both teams: every active member of Marketing, Sales or Managers (and superusers)
    with an e-mail address."""
    return (
        User.objects.filter(is_active=True)
        .filter(Q(groups__name__in=roles.ALL_ROLES) | Q(is_superuser=True))
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )


def scorecard_mail(*, month=None):
    """Queue last month's scorecard (or ``month``'s) for every member of both teams, one
    e-mail each, through the outbox, in one transaction with the record that the month
    was sent: run twice (two beats, two workers), the month goes out once. Returns the
    number of e-mails queued (0 when the month was already sent)."""
    month = joint_sla.month_start(month or joint_sla.last_complete_month())
    try:
        with transaction.atomic():
            mailing, created = JointSLAMailing.objects.get_or_create(
                month=month, defaults={"sent_at": timezone.now()}
            )
            if not created:
                return 0
            users = list(scorecard_recipients().values_list("pk", flat=True))
            enqueue_many(
                "leads.tasks.send_joint_sla_scorecard",
                [(pk, month.isoformat()) for pk in users],
            )
            mailing.recipients = len(users)
            mailing.save(update_fields=["recipients"])
    except IntegrityError:  # another run recorded the month first
        return 0
    return len(users)


def scorecard_send(user_id, month):
    """E-mail one person the scorecard of ``month`` (an ISO date), in their language."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email:
        return
    month = dt.date.fromisoformat(month)
    card = joint_sla.scorecard(last=month, months=1)
    with translation.override(user_language(user)):
        send_templated(
            "joint_sla_scorecard",
            to=[user.email],
            context={"recipient": user, "month": card["months"][0], "policy": card["policy"]},
        )
