"""Forms of the teams and rules pages. They parse input; the rules about it live in
sales.routing.services, whose InvalidInput errors the views attach to the field named."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, Channel
from leadflow import roles
from leadflow.errors import InvalidInput
from leads.forms import RepChoiceField, rep_choices_queryset
from leads.models import InquiryType, Lead, Origin

from ..models import AssignmentRule, Team
from .engine import Facts
from .services import MAX_CAPACITY, MAX_WEIGHT, RULE_FIELDS, validate_rule

User = get_user_model()


def _blank(choices):
    return [("", _("any")), *choices]


class TeamForm(forms.Form):
    """A team's name and lead, and for each active rep a "member" box and a weight."""

    name = forms.CharField(label=_("Name"), max_length=100)
    lead = forms.ModelChoiceField(label=_("Team lead"), queryset=User.objects.none())
    slack_webhook_url = forms.URLField(
        label=_("Slack incoming-webhook URL"),
        max_length=500,
        required=False,
        help_text=_("A lead waiting in this team's queue is also posted there."),
    )
    teams_webhook_url = forms.URLField(
        label=_("Microsoft Teams incoming-webhook URL"), max_length=500, required=False
    )

    def __init__(self, *args, team=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead"].queryset = (
            User.objects.filter(is_active=True, groups__name=roles.MANAGERS)
            .distinct()
            .order_by("username")
        )
        self.fields["lead"].label_from_instance = lambda u: u.get_full_name() or u.username
        weights = {}
        if team is not None:
            self.initial.setdefault("name", team.name)
            self.initial.setdefault("lead", team.lead_id)
            self.initial.setdefault("slack_webhook_url", team.slack_webhook_url)
            self.initial.setdefault("teams_webhook_url", team.teams_webhook_url)
            weights = dict(team.memberships.values_list("user_id", "weight"))
        self.reps = list(rep_choices_queryset())
        for rep in self.reps:
            self.fields[f"member_{rep.pk}"] = forms.BooleanField(
                label=rep.get_full_name() or rep.get_username(),
                required=False,
                initial=rep.pk in weights,
            )
            self.fields[f"weight_{rep.pk}"] = forms.IntegerField(
                label=_("Weight of %(rep)s") % {"rep": rep.get_username()},
                required=False,
                min_value=1,
                max_value=MAX_WEIGHT,
                initial=weights.get(rep.pk, 1),
            )

    def rows(self):
        """(rep, member box, weight field) per rep, for the template's table."""
        return [(rep, self[f"member_{rep.pk}"], self[f"weight_{rep.pk}"]) for rep in self.reps]

    def members(self):
        data = self.cleaned_data
        return [
            (rep, data.get(f"weight_{rep.pk}") or 1)
            for rep in self.reps
            if data.get(f"member_{rep.pk}")
        ]


class RuleForm(forms.ModelForm):
    class Meta:
        model = AssignmentRule
        fields = list(RULE_FIELDS)
        labels = {"countries": _("Countries")}
        help_texts = {
            "countries": _("One or more, separated by commas; compared without case."),
            "name": _("For you and the timeline: “Benelux web forms”."),
        }

    target_user = RepChoiceField(
        label=_("Salesperson"), queryset=User.objects.none(), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target_user"].queryset = rep_choices_queryset()
        self.fields["target_team"].queryset = Team.objects.order_by("name")
        self.fields["campaign"].queryset = Campaign.objects.order_by("name")
        for name in ("campaign", "target_team"):
            self.fields[name].empty_label = _("any") if name == "campaign" else "---------"
        for name in ("channel", "inquiry_type", "origin"):
            self.fields[name].choices = _blank(self.fields[name].choices[1:])
        self.helper = FormHelper()
        self.helper.layout = Layout(
            Row(Column("name", css_class="col-md-8"), Column("is_active", css_class="col-md-4")),
            Row(Column("campaign"), Column("channel"), Column("inquiry_type")),
            Row(Column("countries"), Column("min_score"), Column("max_score"), Column("origin")),
            Row(Column("target"), Column("target_user"), Column("target_team")),
            Submit("save", _("Save rule")),
        )

    def clean(self):
        """The service's checks, for messages on the fields (and the model's constraints,
        which Django checks next, then hold)."""
        data = super().clean()
        rule = AssignmentRule(**{k: data.get(k) for k in RULE_FIELDS if k in data})
        try:
            validate_rule(rule)
        except InvalidInput as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        else:
            data.update({k: getattr(rule, k) for k in ("countries", "target_user", "target_team")})
        return data


class PreviewForm(forms.Form):
    """A lead to try the rules on: an existing one by number, or a made-up one."""

    lead = forms.IntegerField(label=_("Lead number"), required=False, min_value=1)
    campaign = forms.ModelChoiceField(
        label=_("Campaign"), queryset=Campaign.objects.none(), required=False
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=_blank(Channel.choices), required=False
    )
    inquiry_type = forms.ChoiceField(
        label=_("Inquiry type"), choices=_blank(InquiryType.choices), required=False
    )
    country = forms.CharField(label=_("Country"), max_length=100, required=False)
    score = forms.IntegerField(label=_("Score"), required=False, min_value=0, max_value=100)
    origin = forms.ChoiceField(
        label=_("Origin"), choices=Origin.choices, required=False, initial=Origin.MARKETING
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.order_by("name")

    def clean(self):
        data = super().clean()
        if data.get("lead"):
            lead = Lead.objects.select_related("campaign").filter(pk=data["lead"]).first()
            if lead is None:
                self.add_error("lead", _("No lead has this number."))
            data["lead_obj"] = lead
        return data

    def facts(self):
        data = self.cleaned_data
        if data.get("lead_obj") is not None:
            return Facts.of(data["lead_obj"])
        campaign = data.get("campaign")
        return Facts(
            campaign_id=campaign.pk if campaign else None,
            channel=campaign.channel if campaign else data.get("channel") or "",
            inquiry_type=data.get("inquiry_type") or InquiryType.WEB_FORM,
            country=data.get("country") or "",
            score=data.get("score"),
            origin=data.get("origin") or Origin.MARKETING,
        )


class CapacityForm(forms.Form):
    max_open_leads = forms.IntegerField(
        label=_("Maximum open leads"), required=False, min_value=1, max_value=MAX_CAPACITY
    )
