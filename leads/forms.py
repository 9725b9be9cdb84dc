from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from leadflow import roles
from leadflow.names import person

from . import services
from .models import BulkAction, DisqualifyReason, InquiryType, Lead
from .services import CONTACT_FIELDS

User = get_user_model()


def rep_choices_queryset():
    return roles.active_reps().select_related("profile").order_by("username")


class RepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        name = person(obj)
        profile = getattr(obj, "profile", None)
        if profile is not None and not profile.is_available:
            return _("%(name)s (unavailable)") % {"name": name}
        return name


# The contact fields' rows, shared by logging a lead and correcting it.
CONTACT_ROWS = (
    Row(Column("first_name"), Column("last_name")),
    Row(Column("email"), Column("phone")),
    Row(Column("company"), Column("job_title"), Column("country")),
)


class ContactChecks:
    """A person must be reachable: an email or a phone (the services check it again)."""

    def clean(self):
        data = super().clean()
        if not data.get("email") and not data.get("phone"):
            self.add_error("email", _("Give an email address or a phone number."))
        return data


class LeadForm(ContactChecks, forms.ModelForm):
    """Logging a lead by hand. The email dedupe happens in the service, not here."""

    class Meta:
        model = Lead
        fields = [
            "inquiry_type",
            "campaign",
            "first_name",
            "last_name",
            "email",
            "phone",
            "company",
            "job_title",
            "country",
            "notes",
            "consent",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["campaign"].queryset = Campaign.objects.order_by("name")
        self.fields["inquiry_type"].choices = InquiryType.choices
        sales_generated = user is not None and roles.is_rep(user) and not roles.can_market(user)
        if sales_generated:
            self.fields["campaign"].help_text = _(
                "Optional: a lead you found yourself is logged as sales-generated."
            )
        else:
            self.fields["campaign"].required = True
        self.helper = FormHelper()
        self.helper.layout = Layout(
            Row(Column("inquiry_type"), Column("campaign")),
            *CONTACT_ROWS,
            "notes",
            "consent",
            Submit("save", _("Log lead")),
        )

    def validate_unique(self):
        # Duplicates become touches (lead_intake); the unique email check must not refuse them.
        pass


class LeadContactForm(ContactChecks, forms.ModelForm):
    """Correcting a lead's contact details (leads.services.lead_update_contact)."""

    class Meta:
        model = Lead
        fields = [*CONTACT_FIELDS, "consent"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["last_name"].required = True
        self.helper = FormHelper()
        self.helper.layout = Layout(*CONTACT_ROWS, "consent", Submit("save", _("Save changes")))

    def validate_unique(self):
        # The service checks the email against the other open leads, under the row lock.
        pass


class HandOffForm(forms.Form):
    MODE_AUTO = services.HAND_OFF_AUTO
    MODE_REP = services.HAND_OFF_REP
    MODE_ROUND_ROBIN = services.HAND_OFF_ROUND_ROBIN
    MODE_QUEUE = services.HAND_OFF_QUEUE
    mode = forms.ChoiceField(
        label=_("Hand off to"),
        choices=[
            (MODE_AUTO, _("Whoever the assignment rules pick")),
            (MODE_REP, _("A chosen salesperson")),
            (MODE_ROUND_ROBIN, _("Next salesperson in turn (round-robin)")),
            (MODE_QUEUE, _("The unassigned sales queue")),
        ],
        initial=MODE_ROUND_ROBIN,
        widget=forms.RadioSelect,
    )
    to_user = RepChoiceField(label=_("Salesperson"), queryset=User.objects.none(), required=False)
    note = forms.CharField(
        label=_("Note for sales"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_user"].queryset = rep_choices_queryset()
        self.fields["to_user"].widget.attrs["class"] = "form-select form-select-sm"
        self.fields["note"].widget.attrs["class"] = "form-control form-control-sm"

    def clean(self):
        data = super().clean()
        if data.get("mode") == self.MODE_REP and not data.get("to_user"):
            self.add_error("to_user", _("Choose the salesperson."))
        return data

    def service_kwargs(self):
        data = self.cleaned_data
        return services.hand_off_kwargs(
            mode=data["mode"], to_user=data["to_user"], note=data.get("note")
        )


class DisqualifyForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=DisqualifyReason.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=500)


class QualifyForm(forms.Form):
    score = forms.IntegerField(
        label=_("Score (optional)"), required=False, min_value=0, max_value=100
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=500)


class NoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=500)


class DisputeForm(forms.Form):
    comment = forms.CharField(
        label=_("Why should sales take this lead?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class BulkForm(forms.Form):
    EXPORT = "export"
    ACTIONS = [*BulkAction.choices, (EXPORT, _("Export CSV"))]
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    ids = forms.CharField(widget=forms.MultipleHiddenInput, required=False)
    reason = forms.ChoiceField(
        label=_("Disqualify reason"),
        choices=[("", "---------"), *DisqualifyReason.choices],
        required=False,
    )
    # "Select all N matching": the action is for every lead the list's filters (``filter``,
    # the list's query string) match when the user confirms, not the ticked rows.
    all_matching = forms.BooleanField(required=False)
    filter = forms.CharField(required=False, max_length=4000)
    confirmed = forms.BooleanField(required=False)
    # How many leads the confirmation said match: a set of another size is shown again.
    expected = forms.IntegerField(required=False, min_value=0, max_value=2**31)

    MAX = 500

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        self.lead_ids = []
        if data is not None:
            raw = data.getlist("ids") if hasattr(data, "getlist") else data.get("ids", [])
            self.lead_ids = raw

    def clean(self):
        data = super().clean()
        if data.get("action") == "disqualify" and not data.get("reason"):
            self.add_error("reason", _("Choose a reason for disqualifying."))
        if data.get("all_matching"):
            data["lead_ids"] = []
            return data
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
