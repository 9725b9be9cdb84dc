"""Forms of the sales workspace. They only parse input; the rules (a won deal needs a value
above zero, an activity cannot be in the future, ...) live in sales.services, whose
InvalidInput errors the views attach to the field they name."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from leadflow.dates import QUICK_MOMENTS, DayField, quick_moments
from leadflow.errors import InvalidInput
from leadflow.models import Invitation
from leads.forms import RepChoiceField, rep_choices_queryset
from leads.models import LostReason, RejectionReason

from .models import (
    CONTACT_KINDS,
    ActivityKind,
    ActivityOutcome,
    DisputeRuling,
    ObjectionTag,
    TaskKind,
    Team,
)
from .pipeline import month_range, parse_month
from .services import REASSIGN_CHOICES, REASSIGN_QUEUE, REASSIGN_REP

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _datetime_input():
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL)


NOTE_LABEL = _("Note (optional)")


def _note_field(label=NOTE_LABEL, max_length=1000):
    return forms.CharField(
        label=label,
        required=False,
        max_length=max_length,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class SalesForm(forms.Form):
    """A crispy helper with one submit button, for the full-page version of each form."""

    submit_label = _("Save")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.add_input(Submit("save", self.submit_label))


class RejectForm(SalesForm):
    submit_label = _("Reject")
    reason = forms.ChoiceField(
        label=_("Reason"),
        choices=[("", _("Choose a reason…")), *RejectionReason.choices],
        error_messages={"required": _("Choose a reason for rejecting.")},
    )
    note = _note_field()


# The log forms' quick dates for the next follow-up (leadflow.dates.quick_moments).
QUICK_FOLLOW_UPS = [
    (key, QUICK_MOMENTS[key]) for key in ("tomorrow_9", "in_2_days", "next_monday_9")
]


CONTACT_CHOICES = [(k.value, k.label) for k in CONTACT_KINDS]


class ActivityForm(SalesForm):
    """Log contact: a call, email or meeting. A note is not contact (NoteForm); only a
    correction may restate an activity as a note (which withdraws it as contact)."""

    submit_label = _("Log contact")
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=CONTACT_CHOICES,
        initial=ActivityKind.CALL,
        widget=forms.RadioSelect,
    )
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=[("", "—"), *ActivityOutcome.choices], required=False
    )
    objections = forms.MultipleChoiceField(
        label=_("Objections heard"),
        choices=ObjectionTag.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
    occurred_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        widget=_datetime_input(),
        help_text=_("Leave empty for now."),
    )
    next_follow_up_at = forms.DateTimeField(
        label=_("Next follow-up"), required=False, widget=_datetime_input()
    )
    follow_up_quick = forms.ChoiceField(
        label=_("Quick follow-up date"),
        choices=[("", "—"), *QUICK_FOLLOW_UPS],
        required=False,
        help_text=_("A quick date replaces the next follow-up above."),
    )
    # A correction: the activity this one replaces (activities are never edited).
    corrects = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.initial.get("corrects") or (self.is_bound and self.data.get("corrects")):
            self.fields["kind"].choices = ActivityKind.choices
            self.submit_label = _("Log correction")
            self.helper.inputs.clear()
            self.helper.add_input(Submit("save", self.submit_label))
        if self.initial.get("next_follow_up_at"):
            self.fields["next_follow_up_at"].help_text = _(
                "The scheduled follow-up stays unless you change or clear it."
            )

    def clean(self):
        data = super().clean()
        if data.get("follow_up_quick"):
            data["next_follow_up_at"] = quick_moments()[data["follow_up_quick"]]
        return data

    def service_kwargs(self):
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "outcome": data["outcome"],
            "objections": data["objections"],
            "notes": data["notes"],
            "occurred_at": data["occurred_at"],
            "next_follow_up_at": data.get("next_follow_up_at"),
            "corrects": data["corrects"],
        }


class NoteForm(SalesForm):
    """Add a note: it is not contact, so it moves no stage and does no follow-up."""

    submit_label = _("Add note")
    notes = forms.CharField(
        label=_("Note"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("A note is not contact: it does not count as a call, email or meeting."),
        error_messages={"required": _("Write the note.")},
    )


def _close_date_field():
    return DayField(label=_("Expected close date"))


PROBABILITY_ERROR = _("Enter a probability from 0 to 100.")


def _probability_field():
    return forms.IntegerField(
        label=_("Probability (%)"),
        required=False,
        min_value=0,
        max_value=100,
        help_text=_("Leave empty for the stage's default."),
        error_messages=dict.fromkeys(("min_value", "max_value", "invalid"), PROBABILITY_ERROR),
    )


class OpportunityForm(SalesForm):
    submit_label = _("Make opportunity")
    value = forms.DecimalField(
        label=_("Estimated value"), required=False, max_digits=12, decimal_places=2
    )
    expected_close_on = _close_date_field()
    probability = _probability_field()
    note = _note_field()


class OpportunityEditForm(SalesForm):
    submit_label = _("Save opportunity")
    value = forms.DecimalField(
        label=_("Estimated value"), required=False, max_digits=12, decimal_places=2
    )
    expected_close_on = _close_date_field()
    probability = _probability_field()


class WinForm(SalesForm):
    submit_label = _("Mark won")
    value = forms.DecimalField(
        label=_("Deal value"),
        max_digits=12,
        decimal_places=2,
        error_messages={"required": _("A won deal needs a value above zero.")},
    )
    note = _note_field()


class LoseForm(SalesForm):
    submit_label = _("Mark lost")
    reason = forms.ChoiceField(
        label=_("Reason"),
        choices=[("", _("Choose a reason…")), *LostReason.choices],
        error_messages={"required": _("Choose a reason for losing.")},
    )
    note = _note_field()


class ReopenForm(SalesForm):
    submit_label = _("Reopen")
    note = _note_field()


class ReassignForm(SalesForm):
    submit_label = _("Reassign")
    to_user = RepChoiceField(label=_("Salesperson"), queryset=None)
    note = _note_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_user"].queryset = rep_choices_queryset()


class BulkReassignForm(ReassignForm):
    """Reassign the selected leads (ids posted as repeated ``ids`` values)."""

    MAX = 500

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        self.lead_ids = data.getlist("ids") if data is not None else []

    def clean(self):
        data = super().clean()
        try:
            ids = sorted({int(i) for i in self.lead_ids})
        except (TypeError, ValueError):
            raise forms.ValidationError(_("The selection is not valid.")) from None
        # An id past a bigint would overflow the database driver, not just match nothing.
        if any(not 0 < i < 2**63 for i in ids):
            raise forms.ValidationError(_("The selection is not valid."))
        if not ids:
            raise forms.ValidationError(_("Select at least one lead."))
        if len(ids) > self.MAX:
            raise forms.ValidationError(
                _("Select at most %(max)s leads at a time.") % {"max": self.MAX}
            )
        data["lead_ids"] = ids
        return data


class RulingForm(SalesForm):
    submit_label = _("Rule")
    ruling = forms.ChoiceField(
        label=_("Ruling"), choices=DisputeRuling.choices, widget=forms.RadioSelect
    )
    to_user = RepChoiceField(
        label=_("Hand the lead to (when overturned)"), queryset=None, required=False
    )
    note = _note_field(_("Note for both sides (optional)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_user"].queryset = rep_choices_queryset()


class AvailabilityForm(forms.Form):
    available = forms.BooleanField(label=_("Available for new leads"), required=False)


# --- the team: users, invitations ------------------------------------------------------

ROLE_CHOICES = Invitation.ROLE_CHOICES


class InviteForm(SalesForm):
    submit_label = _("Send invitation")
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES, initial="sales")


class RoleForm(SalesForm):
    submit_label = _("Change role")
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES)


class DeactivateForm(SalesForm):
    """Deactivate a user: where their open leads go (``to_user`` for one chosen rep). For a
    user who holds none the choice is left out; if leads reach them before the post, the
    form asks for it (the post lacks it) rather than guessing."""

    submit_label = _("Deactivate")
    reassign = forms.ChoiceField(
        label=_("Their open leads go"),
        choices=REASSIGN_CHOICES,
        initial=REASSIGN_REP,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose where their open leads go.")},
    )
    to_user = RepChoiceField(
        label=_("Rep"), queryset=rep_choices_queryset(), required=False, empty_label="—"
    )
    note = _note_field()

    def __init__(self, *args, user, holds_leads, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_user"].queryset = rep_choices_queryset().exclude(pk=user.pk)
        if not holds_leads:
            for name in ("reassign", "to_user", "note"):
                del self.fields[name]

    def clean(self):
        data = super().clean()
        if "reassign" not in self.fields:
            # Nothing to move; the queue is the mode that never needs a rep.
            return {**data, "reassign": REASSIGN_QUEUE, "to_user": None, "note": ""}
        if data.get("reassign") == REASSIGN_REP and not data.get("to_user"):
            self.add_error("to_user", _("Choose the rep who takes their leads."))
        return data


# --- the pipeline: the board's and the forecast's filters ------------------------------


class PipelineFilterForm(forms.Form):
    """Whose pipeline: managers choose a rep or a team (a rep sees their own)."""

    owner = RepChoiceField(label=_("Rep"), queryset=None, required=False, empty_label="—")
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.order_by("name"), required=False, empty_label="—"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = rep_choices_queryset()
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs["class"] = f"{css} form-{css.split('-')[1]}-sm"


MONTH_INPUT = forms.TextInput(attrs={"type": "month", "pattern": r"\d{4}-\d{2}"})


class ForecastForm(PipelineFilterForm):
    months_from = forms.CharField(label=_("From month"), required=False, widget=MONTH_INPUT)
    months_to = forms.CharField(label=_("To month"), required=False, widget=MONTH_INPUT)

    def clean(self):
        data = super().clean()
        try:
            start = (
                parse_month(data["months_from"], "months_from")
                if data.get("months_from")
                else None
            )
            end = parse_month(data["months_to"], "months_to") if data.get("months_to") else None
            data["months"] = month_range(start, end)
        except InvalidInput as exc:
            self.add_error(exc.field, exc.message)
        return data


class SnoozeForm(SalesForm):
    submit_label = _("Snooze")
    # The posted values, and the quick moment (leadflow.dates.quick_moments) of each.
    QUICK_SNOOZES = {"1h": "in_1_hour", "tomorrow": "tomorrow_9", "monday": "next_monday_9"}
    SNOOZE_CHOICES = [
        *((value, QUICK_MOMENTS[key]) for value, key in QUICK_SNOOZES.items()),
        ("at", _("At a chosen time")),
    ]
    snooze = forms.ChoiceField(label=_("Snooze until"), choices=SNOOZE_CHOICES, initial="tomorrow")
    until = forms.DateTimeField(label=_("Chosen time"), required=False, widget=_datetime_input())
    reason = forms.CharField(label=_("Reason"), max_length=300)

    @classmethod
    def quick_snoozes(cls, now=None):
        """{posted value: moment} of the quick snoozes (the page's and the API's presets)."""
        moments = quick_moments(now)
        return {value: moments[key] for value, key in cls.QUICK_SNOOZES.items()}

    def clean(self):
        data = super().clean()
        choice = data.get("snooze")
        if choice == "at":
            if not data.get("until"):
                self.add_error("until", _("Choose the time to snooze to."))
        elif choice:
            data["until"] = self.quick_snoozes()[choice]
        return data


class TaskForm(SalesForm):
    submit_label = _("Add task")
    kind = forms.ChoiceField(label=_("Task"), choices=TaskKind.choices, initial=TaskKind.CALL_BACK)
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    due_at = forms.DateTimeField(label=_("Due"), widget=_datetime_input())
