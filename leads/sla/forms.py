"""Forms of the SLA pages (managers only). They check input for the page; the services in
leads.sla.services check it again and make the change."""

import zoneinfo

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Fieldset, Layout, Row, Submit
from django import forms
from django.conf import settings
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign

from ..models import (
    OPTIONAL_THRESHOLD_FIELDS,
    THRESHOLD_FIELDS,
    TRIAGE_FIELDS,
    Holiday,
    SLAPolicy,
)
from .durations import MinutesField
from .services import ACTIVITY_FIELDS, ACTIVITY_LIMITS, CALENDAR_FIELDS, MAX_MINUTES

WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


def _limit_thresholds(form):
    """Durations ("45 min", "4 h", "2 d") of at least a minute: zero would flag every lead
    the moment it moves. The triage thresholds are labelled by their inquiry type."""
    triage_labels = {field: kind.label for kind, field in TRIAGE_FIELDS.items()}
    for name in THRESHOLD_FIELDS:
        model_field = form.fields[name]
        form.fields[name] = MinutesField(
            label=triage_labels.get(name, model_field.label),
            initial=model_field.initial,  # the model's default, for a form without instance
            max_minutes=MAX_MINUTES[name],
            min_minutes=0 if name in OPTIONAL_THRESHOLD_FIELDS else 1,
        )


def _threshold_rows():
    triage = list(TRIAGE_FIELDS.values())
    hint = format_html(
        '<p class="form-text mt-0">{}</p>',
        _("Durations such as 45 min, 4 h, 1 h 30 min or 2 d; a bare number is minutes."),
    )
    return (
        Fieldset(
            _("Triage of new leads, per inquiry type"),
            HTML(hint),
            *(Row(*map(Column, triage[i : i + 3])) for i in range(0, len(triage), 3)),
        ),
        Fieldset(
            _("Marketing and sales"),
            Row(Column("mql_waiting_minutes"), Column("rejection_unactioned_minutes")),
            Row(Column("response_minutes"), Column("first_contact_minutes")),
            Row(Column("follow_up_grace_minutes")),
            Row(Column("stalled_minutes"), Column("unconverted_minutes")),
        ),
        Fieldset(
            _("Escalation when the response is overdue"),
            HTML(
                format_html(
                    '<p class="form-text mt-0">{}</p>',
                    _(
                        "The rep is told when the response is overdue; this long after, "
                        "their team lead and the managers; and, if set, this long after "
                        "that the lead goes to the next eligible rep. Once per handoff; "
                        "0 turns a step off."
                    ),
                )
            ),
            Row(Column("escalation_minutes"), Column("auto_reassign_minutes")),
        ),
    )


class GlobalPolicyForm(forms.ModelForm):
    work_days = forms.TypedMultipleChoiceField(
        label=_("Working days"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), required=False)

    class Meta:
        model = SLAPolicy
        fields = [*THRESHOLD_FIELDS, *CALENDAR_FIELDS, *ACTIVITY_FIELDS]
        widgets = {
            "work_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "work_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        help_texts = {
            "business_hours_enabled": _(
                "Thresholds then count only working time: working days between the start "
                "and end of the working day, holidays excluded (so 1 d is 24 working hours). "
                "Stalled and unconverted stay calendar time."
            ),
            "late_grace_minutes": _(
                "A call, email or meeting logged longer than this after it happened is "
                "marked logged late and counts from when it was logged."
            ),
            "unreached_attempts": _(
                "A lead lost without a connect after fewer attempts is sales' ball dropped; "
                "after this many or more, the market's (unreachable)."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _limit_thresholds(self)
        for name, (low, top) in ACTIVITY_LIMITS.items():
            model_field = self.fields[name]
            self.fields[name] = forms.IntegerField(
                label=model_field.label,
                help_text=model_field.help_text,
                min_value=low,
                max_value=top,
            )
        if self.instance and not self.is_bound:
            self.initial["work_days"] = [
                int(d) for d in (self.instance.work_days or "").split(",") if d.strip()
            ]
        self.fields["time_zone"].choices = [
            ("", _("The site's time zone (%(tz)s)") % {"tz": settings.TIME_ZONE}),
            *((tz, tz) for tz in sorted(zoneinfo.available_timezones())),
        ]
        self.helper = FormHelper()
        self.helper.form_id = "sla-policy-form"
        self.helper.layout = Layout(
            *_threshold_rows(),
            Fieldset(
                _("Business hours"),
                "business_hours_enabled",
                "work_days",
                Row(Column("work_start"), Column("work_end"), Column("time_zone")),
            ),
            Fieldset(
                _("Proof of contact"),
                Row(Column("late_grace_minutes"), Column("unreached_attempts")),
            ),
            Submit("save", _("Save policy")),
        )

    def clean_work_days(self):
        return ",".join(str(d) for d in sorted(set(self.cleaned_data["work_days"])))

    def clean(self):
        data = super().clean()
        if data.get("business_hours_enabled") and not data.get("work_days"):
            self.add_error(
                "work_days", _("Choose at least one working day, or count calendar hours.")
            )
        start, end = data.get("work_start"), data.get("work_end")
        if start and end and end <= start:
            self.add_error("work_end", _("The working day must end after it starts."))
        return data


class OverrideForm(forms.ModelForm):
    """Thresholds for one campaign; business hours stay global."""

    class Meta:
        model = SLAPolicy
        fields = ["campaign", *THRESHOLD_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _limit_thresholds(self)
        campaign = self.fields["campaign"]
        campaign.label = _("Campaign")
        campaign.required = True
        if self.instance.pk:
            campaign.disabled = True
            campaign.queryset = Campaign.objects.filter(pk=self.instance.campaign_id)
        else:
            campaign.queryset = Campaign.objects.filter(sla_policy__isnull=True).order_by("name")
        self.helper = FormHelper()
        self.helper.form_id = "sla-override-form"
        self.helper.layout = Layout(
            "campaign",
            *_threshold_rows(),
            Submit("save", _("Save campaign policy")),
        )

    def validate_unique(self):
        # The service refuses a second override of one campaign with a readable message.
        pass


class HolidayForm(forms.ModelForm):
    class Meta:
        model = Holiday
        fields = ["date", "name"]
        labels = {"date": _("Date"), "name": _("Name (optional)")}
        widgets = {"date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False  # the page's own <form> posts to sla:holiday_add
        self.helper.layout = Layout(
            Row(Column("date"), Column("name"), Column(Submit("add", _("Add holiday")))),
        )
