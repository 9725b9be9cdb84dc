"""The one period form of every report: the dashboard, its CSVs, /api/v1/funnel/, the
campaign page and the feedback page."""

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, Channel
from leadflow import roles
from leadflow.dates import DayField
from leadflow.names import person

from .definitions import DEFAULT_DAYS, Filters

User = get_user_model()
MAX_PERIOD_DAYS = 3660  # ten years


class PeriodForm(forms.Form):
    """Period by lead creation date (both ends inclusive, local days; default the last 90
    days), first-touch campaign, channel and salesperson (current owner); shareable as GET
    parameters. ``only`` keeps a subset of the fields for a page that filters by less."""

    start = DayField(label=_("From"))
    end = DayField(label=_("To"))
    campaign = forms.ModelChoiceField(
        label=_("Campaign"), queryset=Campaign.objects.none(), required=False
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", _("All channels")), *Channel.choices], required=False
    )
    owner = forms.ModelChoiceField(
        label=_("Salesperson"), queryset=User.objects.none(), required=False
    )

    def __init__(self, *args, only=None, default_start=None, **kwargs):
        super().__init__(*args, **kwargs)
        if only is not None:
            for name in set(self.fields) - set(only):
                del self.fields[name]
        self.default_start = default_start
        if "campaign" in self.fields:
            self.fields["campaign"].queryset = Campaign.objects.order_by("name")
            self.fields["campaign"].empty_label = _("All campaigns")
        if "owner" in self.fields:
            self.fields["owner"].queryset = (
                User.objects.filter(groups__name=roles.SALES).order_by("username").distinct()
            )
            self.fields["owner"].empty_label = _("All salespeople")
            self.fields["owner"].label_from_instance = person
        if not self.is_bound:
            # Show the default period the page reports on, not two empty inputs.
            start, end = self.default_period()
            self.initial.setdefault("start", start)
            self.initial.setdefault("end", end)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", f"{css} {css}-sm")

    def default_period(self, end=None):
        end = end or timezone.localdate()
        start = self.default_start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
        return min(start, end), end

    def clean(self):
        data = super().clean()
        if "start" not in data or "end" not in data:
            return data  # a bound out of range: its field already says so
        start, end = data["start"], data["end"] or timezone.localdate()
        start = start or self.default_period(end)[0]
        if end < start:
            self.add_error("end", _("The end date cannot be before the start date."))
        elif (end - start).days > MAX_PERIOD_DAYS:
            self.add_error("start", _("Choose a period of at most ten years."))
        data["start"], data["end"] = start, end
        return data

    def filters(self):
        """The cohort of a valid form, else the default period with no other filter."""
        if self.is_valid():
            data = self.cleaned_data
            return Filters(
                start=data["start"],
                end=data["end"],
                campaign=data.get("campaign"),
                channel=data.get("channel") or "",
                owner=data.get("owner"),
            )
        start, end = self.default_period()
        return Filters(start=start, end=end)


class MonthField(forms.CharField):
    """A month as the browser's month input sends it ("2026-10"): the first of the month."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})
    default_error_messages = {"invalid": _("Enter a month as YYYY-MM, e.g. 2026-10.")}

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            year, month = (int(part) for part in value.strip().split("-")[:2])
            return dt.date(year, month, 1)
        except ValueError as exc:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc


class _JointSLAForm(forms.Form):
    month = MonthField(
        label=_("From month"),
        help_text=_("In force from this month until a later one replaces it."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("month", timezone.localdate().strftime("%Y-%m"))
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", f"{css} {css}-sm")


class MarketingTargetForm(_JointSLAForm):
    """Marketing's accepted leads per month for one campaign or one channel."""

    prefix = "target"
    campaign = forms.ModelChoiceField(
        label=_("Campaign"), queryset=Campaign.objects.none(), required=False
    )
    channel = forms.ChoiceField(
        label=_("or channel"), choices=[("", "—"), *Channel.choices], required=False
    )
    accepted_leads = forms.IntegerField(
        label=_("Accepted leads per month"), min_value=0, max_value=10_000_000
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.order_by("name")
        self.fields["campaign"].empty_label = "—"

    def clean(self):
        data = super().clean()
        if data.get("campaign") is None and not data.get("channel"):
            raise forms.ValidationError(_("Choose a campaign or a channel."))
        if data.get("campaign") is not None and data.get("channel"):
            raise forms.ValidationError(
                _("Choose a campaign or a channel, not both: a target is for one of them.")
            )
        return data


class JointSLATermsForm(_JointSLAForm):
    """Marketing's maximum rejection rate and the sales pass mark, in percent."""

    prefix = "terms"
    max_rejection_percent = forms.DecimalField(
        label=_("Maximum rejection rate (%)"),
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
    )
    pass_percent = forms.DecimalField(
        label=_("Share of sales’ leads that must meet each time (%)"),
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
        initial=90,
    )
