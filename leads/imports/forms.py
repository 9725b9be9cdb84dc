"""The CSV import's three forms: upload, column mapping, confirmation."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from leadflow.i18n import lazy_text

from ..models import InquiryType
from . import reader
from .reader import MAX_BYTES, TARGETS


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV or text file"),
        # Excel's "Unicode text" is a .txt, and tab-separated files are often .tsv.
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.tsv,.txt,text/csv,text/tab-separated-values,text/plain"}
        ),
    )
    default_campaign = forms.ModelChoiceField(
        label=_("Campaign for rows without one"),
        queryset=Campaign.objects.none(),
        required=False,
    )
    default_inquiry_type = forms.ChoiceField(
        label=_("Inquiry type for rows without one"),
        choices=InquiryType.choices,
        initial=InquiryType.OTHER,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["default_campaign"].queryset = Campaign.objects.order_by("name")
        self.fields["file"].help_text = lazy_text(
            _(
                "Exports from Salesforce, HubSpot, Pipedrive, Zoho, Mailchimp, LinkedIn and "
                "Meta Lead Ads work as they are, and Excel's “CSV UTF-8” or “Unicode text”: "
                "UTF-8, UTF-16 or Windows-1252, separated by commas, semicolons, tabs or "
                "bars, at most 50 MB and %(rows)s rows. Save an .xlsx workbook as one of "
                "these first."
            ),
            rows=reader.MAX_ROWS,
        )
        self.helper = FormHelper()
        self.helper.layout = Layout(
            "file",
            Row(Column("default_campaign"), Column("default_inquiry_type")),
            Submit("upload", _("Upload and map columns")),
        )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 50 MB; split it."))
        return upload


class ImportMappingForm(forms.Form):
    """One select per CSV column; pre-filled from the header names."""

    default_campaign = forms.ModelChoiceField(
        label=_("Campaign for rows without one"), queryset=Campaign.objects.none(), required=False
    )
    default_inquiry_type = forms.ChoiceField(
        label=_("Inquiry type for rows without one"), choices=InquiryType.choices
    )

    def __init__(self, *args, job, **kwargs):
        initial = {f"col_{i}": job.mapping.get(str(i), "") for i in range(len(job.header))} | {
            "default_campaign": job.default_campaign_id,
            "default_inquiry_type": job.default_inquiry_type,
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.job = job
        self.fields["default_campaign"].queryset = Campaign.objects.order_by("name")
        choices = [(k, v) for k, v in TARGETS.items()]
        for i, name in enumerate(job.header):
            self.fields[f"col_{i}"] = forms.ChoiceField(
                label=name or _("(column %(n)s)") % {"n": i + 1}, choices=choices, required=False
            )

    def column_fields(self):
        return [self[f"col_{i}"] for i in range(len(self.job.header))]

    def mapping(self):
        return {
            str(i): self.cleaned_data.get(f"col_{i}") or "" for i in range(len(self.job.header))
        }


class ImportConfirmForm(forms.Form):
    skip_invalid = forms.BooleanField(required=False)
