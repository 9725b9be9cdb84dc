from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from leadflow import roles
from leadflow.http import origin_of

from .models import Campaign, taken_by_another

User = get_user_model()


class CampaignForm(forms.ModelForm):
    allowed_origin = forms.URLField(
        label=_("Website allowed for intake redirects"),
        required=False,
        assume_scheme="https",
        help_text=_("e.g. https://www.example.com; intake posts may only redirect there."),
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "channel",
            "start_date",
            "end_date",
            "budget",
            "owner",
            "utm_campaign",
            "allowed_origin",
            "route_on_intake",
            "description",
        ]
        widgets = {
            "start_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "end_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = (
            User.objects.filter(
                Q(groups__name=roles.MARKETING) | Q(groups__name=roles.MANAGERS), is_active=True
            )
            .distinct()
            .order_by("username")
        )
        self.fields["owner"].help_text = _(
            "Marketing flags of this campaign's leads go to the owner (managers if empty)."
        )
        self.fields["budget"].widget.attrs.update({"min": "0", "step": "0.01"})
        self.helper = FormHelper()
        self.helper.layout = Layout(
            Row(Column("name", css_class="col-md-8"), Column("channel", css_class="col-md-4")),
            Row(Column("start_date"), Column("end_date")),
            Row(Column("budget"), Column("owner"), Column("utm_campaign")),
            "allowed_origin",
            "route_on_intake",
            "description",
            Submit("save", _("Save campaign")),
        )

    def clean(self):
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", _("The end date cannot be before the start date."))
        if data.get("budget") is not None and data["budget"] < 0:
            self.add_error("budget", _("Amounts cannot be negative."))
        name = (data.get("name") or "").strip()
        if name and taken_by_another("name", name, self.instance):
            # Also what a resubmitted form (back button, then Save again) runs into.
            self.add_error("name", _("A campaign with this name already exists."))
        code = (data.get("utm_campaign") or "").strip()
        if code and taken_by_another("utm_campaign", code, self.instance):
            self.add_error("utm_campaign", _("Another campaign already uses this UTM code."))
        return data

    def clean_allowed_origin(self):
        """Kept as the site's origin (scheme, host and port): that is all the intake
        compares, and a stored path or query only misled."""
        value = self.cleaned_data.get("allowed_origin")
        if not value:
            return ""
        origin = origin_of(value, bare=False)
        if origin is None:
            raise forms.ValidationError(
                _("Give the site's address, like https://www.example.com.")
            )
        return origin

    def validate_constraints(self, exclude=None):
        # The checks above give field-level messages; the database constraints back them up.
        pass


class AutoResponseForm(forms.Form):
    """A campaign's auto-response: on or off, and a subject and text per language of the
    site (campaigns/auto_response.py)."""

    enabled = forms.BooleanField(
        label=_("Send an auto-response to web-form leads"), required=False
    )

    def __init__(self, *args, campaign, **kwargs):
        super().__init__(*args, **kwargs)
        saved = {r.language: r for r in campaign.auto_responses.all()}
        self.initial.setdefault("enabled", campaign.auto_response_enabled)
        self.languages = []
        for code, name in settings.LANGUAGES:
            response = saved.get(code)
            self.fields[f"subject_{code}"] = forms.CharField(
                label=_("Subject (%(language)s)") % {"language": name},
                max_length=200,
                required=False,
                initial=response.subject if response else "",
                widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
            )
            self.fields[f"body_{code}"] = forms.CharField(
                label=_("Text (%(language)s)") % {"language": name},
                max_length=5000,
                required=False,
                initial=response.body if response else "",
                widget=forms.Textarea(attrs={"class": "form-control form-control-sm", "rows": 5}),
            )
            self.languages.append((name, self[f"subject_{code}"], self[f"body_{code}"]))

    def texts(self):
        data = self.cleaned_data
        return {
            code: (data[f"subject_{code}"], data[f"body_{code}"])
            for code, _name in settings.LANGUAGES
        }


class SpendEntryForm(forms.Form):
    """Money spent on the campaign over a range of days (both inclusive)."""

    start = forms.DateField(
        label=_("First day"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        label=_("Last day (inclusive)"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    amount = forms.DecimalField(
        label=_("Amount"),
        min_value=0,
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"min": "0", "step": "0.01", "inputmode": "decimal"}),
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        # Its own ids: the campaign page's period form has fields named start and end too.
        kwargs.setdefault("auto_id", "spend_%s")
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control form-control-sm")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", _("The end date cannot be before the start date."))
        return data


class SpendUploadForm(forms.Form):
    """A spend CSV: date, campaign (name or UTM code), amount; one row per day."""

    file = forms.FileField(
        label=_("CSV file"),
        required=False,
        help_text=_(
            "Columns date, campaign and amount, one row per campaign per day (an ad "
            "platform's daily cost report). The campaign by its name or UTM code."
        ),
    )
    # The file's text again when the user confirms importing its good rows only.
    content = forms.CharField(required=False, widget=forms.HiddenInput)
    skip_invalid = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if not data.get("file") and not data.get("content"):
            raise forms.ValidationError(_("Choose a CSV file."))
        return data
