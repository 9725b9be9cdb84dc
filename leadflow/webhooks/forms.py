from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from ..models import WebhookEvent


class EndpointForm(forms.Form):
    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_(
            "Where LeadFlow POSTs the events. Private and loopback addresses are refused."
        ),
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    events = forms.MultipleChoiceField(
        label=_("Events"), choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("save", _("Save endpoint")))


class ChatChannelsForm(forms.Form):
    slack_webhook_url = forms.URLField(
        label=_("Slack incoming-webhook URL"),
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text=_("https://hooks.slack.com/services/…"),
    )
    teams_webhook_url = forms.URLField(
        label=_("Microsoft Teams incoming-webhook URL"),
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text=_("The URL of the channel's incoming webhook or Workflows trigger."),
    )

    def __init__(self, *args, action="", **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_action = action
        self.helper.add_input(Submit("save", _("Save chat channels")))
