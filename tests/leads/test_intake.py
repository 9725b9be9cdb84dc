import pytest

from leadflow.errors import ActionForbidden, InvalidInput
from leads.models import Lead, Origin, Stage, StageChange, Touch
from leads.services import lead_intake
from sales.services import lead_win
from tests import factories


def test_new_inquiry_creates_lead_touch_and_first_stage_change(marketer, campaign):
    result = lead_intake(
        by=marketer,
        data={"first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com"},
        campaign=campaign,
        inquiry_type="phone_call",
        utm={"utm_source": "google", "utm_medium": "cpc"},
    )
    lead = result.lead
    assert result.created
    assert (lead.stage, lead.origin, lead.owner_side) == ("new", "marketing", "marketing")
    assert lead.campaign == campaign == lead.last_touch_campaign
    assert lead.utm_source == "google"
    touch = Touch.objects.get(lead=lead)
    assert (touch.campaign, touch.inquiry_type, touch.utm_medium) == (
        campaign,
        "phone_call",
        "cpc",
    )
    assert list(StageChange.objects.filter(lead=lead).values_list("from_stage", "to_stage")) == [
        ("", "new")
    ]


def test_same_email_in_other_case_adds_touch_to_open_lead(marketer, campaign):
    first = lead_intake(
        by=marketer, data={"last_name": "Lovelace", "email": "ada@example.com"}, campaign=campaign
    ).lead
    other_campaign = factories.CampaignFactory()
    again = lead_intake(
        by=marketer,
        data={"last_name": "Lovelace", "email": " ADA@example.COM ", "phone": "+31 6 1234"},
        campaign=other_campaign,
        inquiry_type="email",
    )
    assert not again.created
    assert again.lead.pk == first.pk
    assert Lead.objects.count() == 1
    assert Touch.objects.filter(lead=first).count() == 2
    first.refresh_from_db()
    # First touch stays, last touch moves; blank fields are filled, never overwritten.
    assert first.campaign == campaign
    assert first.last_touch_campaign == other_campaign
    assert first.phone == "+31 6 1234"


def test_email_of_a_closed_lead_starts_a_new_lead(make_lead, marketer, campaign, rep):
    lead = make_lead(Stage.OPPORTUNITY, email="back@example.com")
    lead_win(lead=lead, by=rep, value="100")
    again = lead_intake(
        by=marketer, data={"last_name": "Back", "email": "back@example.com"}, campaign=campaign
    )
    assert again.created
    assert again.lead.pk != lead.pk


def test_rep_logged_lead_is_sales_generated_accepted_and_theirs(rep):
    lead = lead_intake(by=rep, data={"last_name": "Found", "email": "f@example.com"}).lead
    assert (lead.origin, lead.stage, lead.owner, lead.owner_side) == (
        Origin.SALES,
        Stage.ACCEPTED,
        rep,
        "sales",
    )
    assert lead.accepted_at == lead.created_at
    assert lead.handed_off_at is None


@pytest.mark.parametrize(
    "data, field",
    [
        ({"email": "x@example.com"}, "last_name"),
        ({"last_name": "NoContact"}, "email"),
    ],
)
def test_intake_refuses_incomplete_lead_and_writes_nothing(marketer, campaign, data, field):
    with pytest.raises(InvalidInput) as excinfo:
        lead_intake(by=marketer, data=data, campaign=campaign)
    assert excinfo.value.field == field
    assert not Lead.objects.exists() and not Touch.objects.exists()


def test_anonymous_intake_needs_a_campaign(db):
    with pytest.raises(InvalidInput):
        lead_intake(by=None, data={"last_name": "X", "email": "x@example.com"})


def test_user_without_role_cannot_log_leads(db, campaign):
    nobody = factories.UserFactory()
    with pytest.raises(ActionForbidden):
        lead_intake(by=nobody, data={"last_name": "X", "email": "x@e.com"}, campaign=campaign)
