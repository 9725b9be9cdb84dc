"""Forms of the sales workspace. They only parse input; the rules (a won deal needs a value
above zero, an activity cannot be in the future, ...) live in sales.services, whose
InvalidInput errors the views attach to the field they name."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from leadflow.models import Invitation
from leads.forms import RepChoiceField, rep_choices_queryset
from leads.models import LostReason, RejectionReason

from .models import ActivityKind, ActivityOutcome, DisputeRuling, ObjectionTag, TaskKind
from .services import REASSIGN_CHOICES, REASSIGN_QUEUE, REASSIGN_REP, snooze_choices

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


class ActivityForm(SalesForm):
    submit_label = _("Log follow-up")
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=ActivityKind.choices,
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
    # A correction: the activity this one replaces (activities are never edited).
    corrects = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.initial.get("corrects") or (self.is_bound and self.data.get("corrects")):
            self.submit_label = _("Log correction")
            self.helper.inputs.clear()
            self.helper.add_input(Submit("save", self.submit_label))
        if self.initial.get("next_follow_up_at"):
            self.fields["next_follow_up_at"].help_text = _(
                "The scheduled follow-up stays unless you change or clear it."
            )

    def service_kwargs(self):
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "outcome": data["outcome"],
            "objections": data["objections"],
            "notes": data["notes"],
            "occurred_at": data["occurred_at"],
            "next_follow_up_at": data["next_follow_up_at"],
            "corrects": data["corrects"],
        }


class OpportunityForm(SalesForm):
    submit_label = _("Make opportunity")
    value = forms.DecimalField(
        label=_("Estimated value"), required=False, max_digits=12, decimal_places=2
    )
    note = _note_field()


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


class SnoozeForm(SalesForm):
    submit_label = _("Snooze")
    SNOOZE_CHOICES = [
        ("1h", _("In an hour")),
        ("tomorrow", _("Tomorrow 9:00")),
        ("monday", _("Next Monday 9:00")),
        ("at", _("At a chosen time")),
    ]
    snooze = forms.ChoiceField(label=_("Snooze until"), choices=SNOOZE_CHOICES, initial="tomorrow")
    until = forms.DateTimeField(label=_("Chosen time"), required=False, widget=_datetime_input())
    reason = forms.CharField(label=_("Reason"), max_length=300)

    def clean(self):
        data = super().clean()
        choice = data.get("snooze")
        if choice == "at":
            if not data.get("until"):
                self.add_error("until", _("Choose the time to snooze to."))
        elif choice:
            data["until"] = snooze_choices()[choice]
        return data


class TaskForm(SalesForm):
    submit_label = _("Add task")
    kind = forms.ChoiceField(label=_("Task"), choices=TaskKind.choices, initial=TaskKind.CALL_BACK)
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    due_at = forms.DateTimeField(label=_("Due"), widget=_datetime_input())
