"""One time-ordered story of a lead: touches, stage changes, handoffs, activities,
disputes and flags, each with who and when (SPEC §2). A fixed number of queries."""

from dataclasses import dataclass, field
from datetime import datetime

from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leadflow.names import person
from sales.models import Activity, Dispute, Handoff, HandoffOutcome, Snooze, Task
from sales.routing import engine as routing

from .models import Flag, StageChange, Touch


@dataclass
class Entry:
    at: datetime
    # touch, stage, handoff, activity, dispute, ruling, flag_raised, flag_resolved, snooze, task
    kind: str
    title: str
    who: object = None
    detail: str = ""
    tags: list = field(default_factory=list)
    order: int = 0
    obj: object = None
    # Warnings about the record itself (an activity logged late, corrected, a correction).
    marks: list = field(default_factory=list)


# The consent answer a touch carried, as its timeline entry shows it.
CONSENT_TAGS = {True: gettext_lazy("consent given"), False: gettext_lazy("consent withdrawn")}


_name = person


def build_timeline(lead):
    entries = []
    for t in Touch.objects.filter(lead=lead).select_related("campaign", "created_by"):
        utm = " · ".join(
            v for v in (t.utm_source, t.utm_medium, t.utm_campaign, t.utm_term, t.utm_content) if v
        )
        entries.append(
            Entry(
                at=t.occurred_at,
                kind="touch",
                title=_("Inquiry (%(type)s) via %(campaign)s")
                % {
                    "type": t.get_inquiry_type_display(),
                    "campaign": t.campaign or _("no campaign"),
                },
                who=t.created_by,
                detail=" ".join(filter(None, [t.get_source_display(), utm, t.message])),
                tags=[CONSENT_TAGS[t.consent]] if t.consent is not None else [],
                order=0,
                obj=t,
            )
        )
    for c in StageChange.objects.filter(lead=lead).select_related("by"):
        title = (
            _("Stage: %(from)s → %(to)s")
            % {"from": c.get_from_stage_display(), "to": c.get_to_stage_display()}
            if c.from_stage
            else _("Created at stage %(to)s") % {"to": c.get_to_stage_display()}
        )
        entries.append(
            Entry(
                at=c.at,
                kind="stage",
                title=title,
                who=c.by,
                detail=c.get_note_display(),
                order=1,
                obj=c,
            )
        )
    for h in Handoff.objects.filter(lead=lead).select_related("from_user", "to_user"):
        if h.to_user_id and not h.claimed_at:
            target = _name(h.to_user)
        elif h.routing.get("team") and h.routing.get("fallback") == routing.TEAM_QUEUE:
            target = _("the queue of team %(team)s") % {"team": h.routing["team"]}
        else:
            target = _("the sales queue")
        entries.append(
            Entry(
                at=h.handed_at,
                kind="handoff",
                title=(
                    _("%(kind)s to %(target)s") % {"kind": h.get_kind_display(), "target": target}
                ),
                who=h.from_user,
                # The assignment rules' decision, when they made it: which rule, who was
                # passed over and why.
                detail="\n".join(filter(None, [h.note, routing.describe(h.routing)])),
                order=2,
                obj=h,
            )
        )
        if h.claimed_at:
            entries.append(
                Entry(
                    at=h.claimed_at,
                    kind="handoff",
                    title=_("Claimed from the queue by %(rep)s") % {"rep": _name(h.to_user)},
                    who=h.to_user,
                    order=2,
                    obj=h,
                )
            )
        if h.responded_at and h.outcome:
            rejected = h.outcome == HandoffOutcome.REJECTED
            # The rep's note shows on the stage change to rejected, by the rep.
            detail = h.get_rejection_reason_display() if rejected else ""
            entries.append(
                Entry(
                    at=(h.rejected_at or h.responded_at) if rejected else h.responded_at,
                    kind="handoff_response",
                    title=_("Handoff %(outcome)s") % {"outcome": h.get_outcome_display().lower()},
                    who=h.to_user,
                    detail=detail,
                    order=3,
                    obj=h,
                )
            )
    activities = Activity.objects.filter(lead=lead).select_related(
        "user", "corrects", "correction"
    )
    for a in activities.prefetch_related("objections"):
        tags = [o.get_tag_display() for o in a.objections.all()]
        title = a.get_kind_display()
        if a.outcome:
            title = f"{title}: {a.get_outcome_display().lower()}"
        detail = a.notes
        if a.next_follow_up_at:
            detail = (detail + "\n" if detail else "") + _("Next follow-up: %(at)s") % {
                "at": date_format(localtime(a.next_follow_up_at), "SHORT_DATETIME_FORMAT")
            }
        marks = []
        if a.logged_late:
            marks.append(
                _("Logged late (%(at)s): counts from then")
                % {"at": date_format(localtime(a.logged_at), "SHORT_DATETIME_FORMAT")}
            )
        if a.corrects_id:
            marks.append(
                _("Correction of the entry of %(at)s")
                % {"at": date_format(localtime(a.corrects.occurred_at), "SHORT_DATETIME_FORMAT")}
            )
        correction = getattr(a, "correction", None)
        if correction is not None:
            marks.append(
                _("Corrected on %(at)s: no longer counts")
                % {"at": date_format(localtime(correction.logged_at), "SHORT_DATETIME_FORMAT")}
            )
        entries.append(
            Entry(
                at=a.occurred_at,
                kind="activity",
                title=title,
                who=a.user,
                detail=detail,
                tags=tags,
                order=4,
                obj=a,
                marks=marks,
            )
        )
    for d in Dispute.objects.filter(lead=lead).select_related("raised_by", "ruled_by"):
        entries.append(
            Entry(
                at=d.raised_at,
                kind="dispute",
                title=_("Rejection disputed"),
                who=d.raised_by,
                detail=d.comment,
                order=5,
                obj=d,
            )
        )
        if d.ruled_at:
            entries.append(
                Entry(
                    at=d.ruled_at,
                    kind="ruling",
                    title=d.get_ruling_display(),
                    who=d.ruled_by,
                    detail=d.ruling_note,
                    order=6,
                    obj=d,
                )
            )
    for f in Flag.objects.filter(lead=lead).select_related("responsible"):
        responsible = _name(f.responsible) or _("managers")
        entries.append(
            Entry(
                at=f.raised_at,
                kind="flag_raised",
                title=_("Flag raised: %(kind)s") % {"kind": f.get_kind_display()},
                detail=_("%(side)s side, responsible: %(who)s")
                % {"side": f.get_side_display(), "who": responsible},
                order=7,
                obj=f,
            )
        )
        if f.resolved_at and f.closed_as_breach:
            entries.append(
                Entry(
                    at=f.resolved_at,
                    kind="flag_resolved",
                    title=_("Flag closed as a breach: %(kind)s") % {"kind": f.get_kind_display()},
                    detail=_("The lead changed hands; the breach stays with %(who)s.")
                    % {"who": responsible},
                    order=8,
                    obj=f,
                )
            )
        elif f.resolved_at:
            entries.append(
                Entry(
                    at=f.resolved_at,
                    kind="flag_resolved",
                    title=_("Flag resolved: %(kind)s") % {"kind": f.get_kind_display()},
                    order=8,
                    obj=f,
                )
            )
    for z in Snooze.objects.filter(lead=lead).select_related("user"):
        entries.append(
            Entry(
                at=z.at,
                kind="snooze",
                title=_("Follow-up snoozed until %(until)s")
                % {"until": date_format(localtime(z.until), "SHORT_DATETIME_FORMAT")},
                who=z.user,
                detail=z.reason,
                order=9,
                obj=z,
            )
        )
    for t in Task.objects.filter(lead=lead).select_related("user"):
        entries.append(
            Entry(
                at=t.created_at,
                kind="task",
                title=_("Task: %(title)s, due %(due)s")
                % {
                    "title": t.title,
                    "due": date_format(localtime(t.due_at), "SHORT_DATETIME_FORMAT"),
                },
                who=t.user,
                tags=[_("done")] if t.completed_at else [],
                order=10,
                obj=t,
            )
        )
    entries.sort(key=lambda e: (e.at, e.order))
    return entries
