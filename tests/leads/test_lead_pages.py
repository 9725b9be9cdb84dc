import pytest
from django.urls import reverse

from leadflow.models import Notification
from leadflow.names import person
from leads.models import Lead, Stage, Touch
from sales.models import Handoff
from tests import factories


def test_marketer_logs_a_lead_by_hand(marketer_client, campaign):
    response = marketer_client.post(
        reverse("leads:create"),
        {
            "inquiry_type": "phone_call",
            "campaign": campaign.pk,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "consent": "on",
        },
    )
    lead = Lead.objects.get()
    assert response["Location"] == lead.get_absolute_url()
    assert (lead.stage, lead.campaign, lead.inquiry_type, lead.consent) == (
        "new",
        campaign,
        "phone_call",
        True,
    )


def test_logging_a_known_email_adds_a_touch_and_says_so(marketer_client, make_lead, campaign):
    lead = make_lead(Stage.MQL, email="known@example.com")
    response = marketer_client.post(
        reverse("leads:create"),
        {
            "inquiry_type": "email",
            "campaign": campaign.pk,
            "last_name": "K",
            "email": "KNOWN@example.com",
        },
        follow=True,
    )
    assert Lead.objects.count() == 1 and Touch.objects.filter(lead=lead).count() == 2
    assert "Added to existing lead" in response.content.decode()
    assert response.redirect_chain[-1][0] == lead.get_absolute_url()


def test_a_rep_logging_another_reps_lead_learns_nothing_of_it(
    rep_client, make_lead, other_rep, campaign
):
    lead = make_lead(
        Stage.CONTACTED, owner=other_rep, email="julia@example.com", company="Secret B.V."
    )
    response = rep_client.post(
        reverse("leads:create"),
        {
            "inquiry_type": "phone_call",
            "last_name": "Bos",
            "email": "JULIA@example.com",
            "notes": "Called about pricing",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert response.redirect_chain[0][0] == reverse("home")
    body = response.content.decode()
    assert "another salesperson is working" in body
    assert f"#{lead.pk}" not in body and "Secret B.V." not in body
    assert lead.get_absolute_url() not in body
    touch = Touch.objects.filter(lead=lead).latest("id")
    assert touch.message == "Called about pricing"
    assert Lead.objects.count() == 1


@pytest.mark.parametrize(
    "data, field",
    [
        ({"email": "x@example.com"}, "last_name"),
        ({"last_name": "X", "email": "not an email"}, "email"),
        ({"last_name": "X"}, "email"),
        ({"last_name": "X", "email": "x@example.com", "campaign": ""}, "campaign"),
        ({"last_name": "X" * 101, "email": "x@example.com"}, "last_name"),
    ],
)
def test_lead_form_shows_field_errors(marketer_client, campaign, data, field):
    payload = {"inquiry_type": "web_form", "campaign": campaign.pk, **data}
    response = marketer_client.post(reverse("leads:create"), payload)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Lead.objects.exists()


def test_rep_logs_a_sales_generated_lead_without_campaign(rep_client, rep):
    rep_client.post(
        reverse("leads:create"),
        {"inquiry_type": "other", "last_name": "Found", "phone": "+31 6 1"},
    )
    lead = Lead.objects.get()
    assert (lead.origin, lead.stage, lead.owner) == ("sales", "accepted", rep)


def test_lead_page_scoping(rep_client, other_rep_client, marketer_client, make_lead):
    lead = make_lead(Stage.ACCEPTED)
    assert rep_client.get(lead.get_absolute_url()).status_code == 200
    assert other_rep_client.get(lead.get_absolute_url()).status_code == 404
    assert marketer_client.get(lead.get_absolute_url()).status_code == 200


def test_lead_page_timeline_tells_the_whole_story_in_order(
    marketer_client, make_lead, rep, marketer
):
    from leads import services as marketing
    from sales import services as sales

    lead = make_lead(Stage.REJECTED)
    marketing.dispute_raise(lead=lead, by=marketer, comment="They asked twice")
    body = marketer_client.get(lead.get_absolute_url()).content.decode()
    order = [
        "Inquiry",
        "Created at stage New",
        "Stage: New → MQL",
        f"Handoff to {person(rep)}",
        "Stage: Handed off → Rejected",
        "Handoff rejected",
        "Rejection disputed",
    ]
    positions = [body.index(text) for text in order]
    assert positions == sorted(positions)
    assert "They asked twice" in body
    lead2 = make_lead(Stage.ACCEPTED)
    sales.activity_log(
        lead=lead2, by=rep, kind="meeting", notes="Demo went well", objections=["price"]
    )
    body = marketer_client.get(lead2.get_absolute_url()).content.decode()
    assert "Meeting" in body and "Demo went well" in body and "Price" in body


@pytest.mark.parametrize(
    "action, stage, data, expected",
    [
        ("qualify", Stage.NEW, {}, Stage.MQL),
        ("nurture", Stage.NEW, {}, Stage.NURTURE),
        ("recycle", Stage.REJECTED, {}, Stage.NURTURE),
        ("disqualify", Stage.MQL, {"reason": "spam"}, Stage.DISQUALIFIED),
    ],
)
def test_marketing_actions_from_the_lead_page(
    marketer_client, make_lead, action, stage, data, expected
):
    lead = make_lead(stage)
    response = marketer_client.post(reverse(f"leads:{action}", args=[lead.pk]), data)
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.stage == expected


def test_refused_move_shows_the_services_message_and_changes_nothing(marketer_client, make_lead):
    lead = make_lead(Stage.WON)
    response = marketer_client.post(reverse("leads:qualify", args=[lead.pk]), follow=True)
    assert "Cannot qualify this lead: it is at the “Won” stage." in response.content.decode()
    lead.refresh_from_db()
    assert lead.stage == Stage.WON


def test_disqualify_without_reason_is_refused(marketer_client, make_lead):
    lead = make_lead(Stage.NEW)
    response = marketer_client.post(reverse("leads:disqualify", args=[lead.pk]), {}, follow=True)
    assert "This field is required" in response.content.decode()
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW


def test_rep_cannot_qualify_and_other_rep_gets_404(rep_client, other_rep_client, make_lead):
    lead = make_lead(Stage.HANDED_OFF)
    assert rep_client.post(reverse("leads:qualify", args=[lead.pk])).status_code == 403
    assert other_rep_client.post(reverse("leads:qualify", args=[lead.pk])).status_code == 404
    lead.refresh_from_db()
    assert lead.stage == Stage.HANDED_OFF


def test_marketing_actions_need_post_and_csrf(make_lead, marketer):
    from django.test import Client

    lead = make_lead(Stage.NEW)
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)
    assert client.get(reverse("leads:qualify", args=[lead.pk])).status_code == 405
    assert client.post(reverse("leads:qualify", args=[lead.pk])).status_code == 403
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW


def test_hand_off_to_chosen_rep_notifies_them(
    marketer_client, make_lead, rep, mailoutbox, django_capture_on_commit_callbacks
):
    lead = make_lead(Stage.MQL)
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(
            reverse("leads:hand_off", args=[lead.pk]),
            {"mode": "rep", "to_user": rep.pk, "note": "Hot!"},
        )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == (Stage.HANDED_OFF, rep)
    assert Handoff.objects.get(lead=lead).note == "Hot!"
    assert Notification.objects.filter(user=rep, kind="handed_to_you").exists()
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [rep.email]


def test_hand_off_to_the_queue_and_by_round_robin(marketer_client, make_lead, rep, other_rep):
    queued = make_lead(Stage.MQL)
    marketer_client.post(reverse("leads:hand_off", args=[queued.pk]), {"mode": "queue"})
    queued.refresh_from_db()
    assert queued.stage == Stage.HANDED_OFF and queued.owner is None
    owners = set()
    for _ in range(2):
        lead = make_lead(Stage.MQL)
        marketer_client.post(reverse("leads:hand_off", args=[lead.pk]), {"mode": "round_robin"})
        lead.refresh_from_db()
        owners.add(lead.owner)
    assert owners == {rep, other_rep}


def test_hand_off_to_chosen_mode_without_rep_is_an_error(marketer_client, make_lead):
    lead = make_lead(Stage.MQL)
    response = marketer_client.post(
        reverse("leads:hand_off", args=[lead.pk]), {"mode": "rep"}, follow=True
    )
    assert "Choose the salesperson." in response.content.decode()
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL


def test_bulk_qualify_reports_refusals_and_keeps_the_successes(marketer_client, make_lead):
    ok1, ok2, won = make_lead(Stage.NEW), make_lead(Stage.NEW), make_lead(Stage.WON)
    response = marketer_client.post(
        reverse("leads:bulk"), {"action": "qualify", "ids": [ok1.pk, ok2.pk, won.pk]}, follow=True
    )
    body = response.content.decode()
    assert "2 leads updated" in body
    assert f"Lead #{won.pk}: Cannot qualify this lead: it is at the “Won” stage." in body
    assert set(Lead.objects.filter(stage=Stage.MQL).values_list("pk", flat=True)) == {
        ok1.pk,
        ok2.pk,
    }


def test_bulk_hand_off_by_round_robin_spreads_over_reps(
    marketer_client, make_lead, rep, other_rep
):
    leads = [make_lead(Stage.MQL) for _ in range(4)]
    marketer_client.post(
        reverse("leads:bulk"),
        {"action": "hand_off", "mode": "round_robin", "ids": [lead.pk for lead in leads]},
    )
    owners = [Lead.objects.get(pk=lead.pk).owner for lead in leads]
    assert owners.count(rep) == 2 and owners.count(other_rep) == 2


def test_bulk_needs_a_selection_and_a_reason_for_disqualify(marketer_client, make_lead):
    lead = make_lead(Stage.NEW)
    body = marketer_client.post(
        reverse("leads:bulk"), {"action": "qualify"}, follow=True
    ).content.decode()
    assert "Select at least one lead." in body
    body = marketer_client.post(
        reverse("leads:bulk"), {"action": "disqualify", "ids": [lead.pk]}, follow=True
    ).content.decode()
    assert "Choose a reason for disqualifying." in body
    body = marketer_client.post(
        reverse("leads:bulk"), {"action": "qualify", "ids": ["x"]}, follow=True
    ).content.decode()
    assert "The selection is not valid." in body
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW


def test_bulk_is_marketing_only(rep_client, make_lead):
    lead = make_lead(Stage.NEW)
    assert (
        rep_client.post(reverse("leads:bulk"), {"action": "qualify", "ids": [lead.pk]}).status_code
        == 403
    )


def test_bulk_never_redirects_off_site(marketer_client, make_lead):
    lead = make_lead(Stage.NEW)
    response = marketer_client.post(
        reverse("leads:bulk"),
        {"action": "qualify", "ids": [lead.pk], "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("leads:list")


def test_unavailable_rep_is_labelled_in_the_hand_off_choice(
    marketer_client, make_lead, rep, manager
):
    from sales.services import rep_set_availability

    rep_set_availability(rep=rep, by=manager, available=False)
    lead = make_lead(Stage.MQL)
    body = marketer_client.get(lead.get_absolute_url()).content.decode()
    assert "(unavailable)" in body


def test_sales_generated_lead_list_badge(marketer_client, rep):
    from leads.services import lead_intake

    lead_intake(by=rep, data={"last_name": "Self", "email": "s@x.test"})
    assert "Sales-generated" in marketer_client.get(reverse("leads:list")).content.decode()


def test_user_without_role_cannot_log_leads(client, db):
    client.force_login(factories.UserFactory())
    assert client.get(reverse("leads:create")).status_code == 403
