"""Every URL pattern of the project, what each role gets from it (SPEC §1), and the means to
request it: the table the URL walk (test_url_walk.py) checks and the CSRF, CSP and fuzz
tests reuse.

Each row gives the expected answer per role, in the order

    anonymous, marketer, rep, other rep, manager

one letter each:

    L  redirect to the login page (with ?next=)       U  401 (the JSON API)
    A  redirect to the admin's login page             F  403: this role may not
    N  404: not in this user's scope                  X  405: method not allowed
    K  allowed: 2xx or 3xx, and no error message      -  not requested

"rep" owns the sales-side leads; to "other rep" each of them is another rep's lead. The
objects behind the ids come from world.build_world(). ``post`` is the state-changing
method (POST, or PATCH where so marked) with a valid body, so an allowed role's request
succeeds; refused requests must change nothing.
"""

import datetime as dt
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

from leads.models import Stage

from .world import ROLES


@dataclass(frozen=True)
class Row:
    get: str
    post: str = "-----"
    kwargs: object = None  # world -> url kwargs
    data: object = None  # world -> body of the state-changing request
    method: str = "post"
    json: bool = False
    url: object = None  # world -> the URL itself, for patterns without a name
    page_form: bool = True  # a page's form (CSRF-protected), not the API or the intake
    notes: str = ""

    def expected(self, method):
        codes = self.get if method == "get" else self.post
        assert len(codes) == len(ROLES), codes
        return dict(zip(ROLES, codes, strict=True))


# A reader's answer may name no lead outside their scope: the page and every CSV table of
# these routes are walked for it, per rep, by test_dashboard_scope.py (issue 15, finding 3).
SCOPE_WALKED = "lists only leads in the reader's scope: walked by test_dashboard_scope.py"


def lead(stage):
    return lambda w: {"pk": w.leads[stage].pk}


def note(**extra):
    return lambda w: {"note": "walk", **extra}


def _webhook_form(w):
    return {"url": "http://127.0.0.1:9/walk", "events": ["lead.won"], "is_active": "on"}


def _campaign_form(w):
    c = w.campaign
    return {
        "name": "Walked",
        "channel": c.channel,
        "start_date": c.start_date.isoformat(),
        "budget": "100",
        "owner": w.users["marketer"].pk,
        "utm_campaign": "walked",
    }


def _spend_csv(w):
    from django.core.files.uploadedfile import SimpleUploadedFile

    text = f"date,campaign,amount\n2026-10-01,{w.campaign.name},12.50\n"
    return {"file": SimpleUploadedFile("costs.csv", text.encode(), content_type="text/csv")}


def _thresholds(**extra):
    from leads.sla.services import THRESHOLD_FIELDS

    return lambda w: dict.fromkeys(THRESHOLD_FIELDS, 40) | extra


def _policy(w):
    return (
        _thresholds()(w)
        | {"work_days": ["0", "1", "2", "3", "4"], "work_start": "09:00"}
        | {"work_end": "17:00"}
        | {"late_grace_minutes": 1440, "unreached_attempts": 6}
    )


def _override_create(w):
    return _thresholds(campaign=w.bare_campaign.pk)(w)


def _import_upload(w):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from .world import CSV

    return {
        "file": SimpleUploadedFile("leads.csv", CSV, content_type="text/csv"),
        "default_inquiry_type": "other",
    }


def _mapping(w):
    job = w.import_job
    data = {f"col_{i}": job.mapping.get(str(i), "") for i in range(len(job.header))}
    return data | {"default_inquiry_type": "other", "default_campaign": w.campaign.pk}


def _activity(w):
    return {"kind": "call", "outcome": "connected", "notes": "walk"}


def _new_lead(w):
    return {
        "inquiry_type": "web_form",
        "campaign": w.campaign.pk,
        "last_name": "Walker",
        "email": "walker@example.com",
    }


USER = lambda role: lambda w: {"user_id": w.users[role].pk}  # noqa: E731


def _invitation_token(w):
    from leadflow.services import invitation_token

    return invitation_token(w.invitation)


def _team_form(w):
    rep = w.users["rep"]
    return {
        "name": "Walked team",
        "lead": w.users["manager"].pk,
        f"member_{rep.pk}": "on",
        f"weight_{rep.pk}": "2",
    }


def _rule_form(w):
    return {
        "name": "Walked rule",
        "is_active": "on",
        "target": "team",
        "target_team": w.team.pk,
        "countries": "NL",
    }


# fmt: off
ROUTES = {
    # name (or route when unnamed): Row(GET, POST)        anon/marketer/rep/other/manager
    "home": Row("LKKKK"),
    "login": Row("KKKKK", "KKKKK", data=lambda w: {"username": "nobody", "password": "x"},
                 notes="a wrong password re-renders the form (200)"),
    "logout": Row("XXXXX", "KKKKK"),
    "set_language": Row("XXXXX", "KKKKK", data=lambda w: {"language": "nl", "next": "/"},
                        notes="anyone may pick a language"),
    "profile": Row("LKKKK", "LKKKK", data=lambda w: {"name": "walk"}),
    "api_token_revoke": Row("LXXXX", "LNKNN", kwargs=lambda w: {"pk": w.token.pk}),
    # Password pages: the reset is anyone's (a wrong address gets the same answer); the
    # change needs a login (a wrong old password re-renders the form). The reset and
    # invitation links' POSTs are tested in tests/core/test_team.py.
    "password_reset": Row("KKKKK", "KKKKK", data=lambda w: {"email": "nobody@example.com"}),
    "password_reset_done": Row("KKKKK"),
    "password_reset_confirm": Row("KKKKK", kwargs=lambda w: {"uidb64": "MQ", "token": "x-y"}),
    "password_reset_complete": Row("KKKKK"),
    "password_change": Row("LKKKK", "LKKKK", data=lambda w: {"old_password": "wrong"}),
    "password_change_done": Row("LKKKK"),
    "invitation_accept": Row("KKKKK", kwargs=lambda w: {"token": _invitation_token(w)},
                             notes="public: the signed link is the credential"),
    "notification_settings": Row("LXXXX", "LKKKK", data=lambda w: {"handed_to_you_in_app": "on"},
                                 notes="each user's own switches"),
    "dashboard": Row("LKKKK", notes=SCOPE_WALKED),
    "dashboard_csv": Row("LKKKK", kwargs=lambda w: {"table": "funnel"}, notes=SCOPE_WALKED),
    # The joint SLA: everyone with the dashboard reads it; managers set its targets.
    "joint_sla": Row("LKKKK", notes="figures only, no lead listed"),
    "joint_sla_csv": Row("LKKKK", notes="figures only, no lead listed"),
    "joint_sla_target": Row("LXXXX", "LFFFK", data=lambda w: {
        "target-month": "2026-11", "target-channel": "events", "target-accepted_leads": 5}),
    "joint_sla_terms": Row("LXXXX", "LFFFK", data=lambda w: {
        "terms-month": "2026-11", "terms-max_rejection_percent": 20, "terms-pass_percent": 90}),
    "notifications": Row("LKKKK"),
    "notifications_read": Row("LXXXX", "LKKKK"),
    "notification_open": Row("LNKNN", kwargs=lambda w: {"pk": w.notification.pk}),
    "intake": Row("XXXXX", "KKKKK", kwargs=lambda w: {"key": w.campaign.intake_key},
                  data=lambda w: {"last_name": "Public", "email": "public@example.com"},
                  page_form=False, notes="public; a wrong key is a 404 (own test)"),
    # campaigns: marketing's (SPEC §1)
    "campaigns:list": Row("LKFFK"),
    "campaigns:create": Row("LKFFK", "LKFFK", data=_campaign_form),
    "campaigns:feedback": Row("LKFFK"),
    "campaigns:detail": Row("LKFFK", kwargs=lambda w: {"pk": w.campaign.pk}),
    "campaigns:update": Row("LKFFK", "LKFFK", kwargs=lambda w: {"pk": w.campaign.pk},
                            data=_campaign_form),
    "campaigns:rotate_key": Row("LXXXX", "LKFFK", kwargs=lambda w: {"pk": w.campaign.pk}),
    "campaigns:auto_response": Row("LXXXX", "LKFFK", kwargs=lambda w: {"pk": w.campaign.pk},
                                   data=lambda w: {"subject_en": "Hi {first_name}",
                                                   "body_en": "Thanks."}),
    "campaigns:spend_add": Row("LXXXX", "LKFFK", kwargs=lambda w: {"pk": w.campaign.pk},
                               data=lambda w: {"start": "2026-10-01", "end": "2026-10-31",
                                               "amount": "4200.00"}),
    "campaigns:spend_delete": Row("LXXXX", "LKFFK", kwargs=lambda w: {
        "pk": w.campaign.pk, "entry": w.campaign.spend_entries.first().pk}),
    "campaigns:spend_upload": Row("LKFFK", "LKFFK", data=_spend_csv),
    # leads: everyone with a role logs and lists leads; marketing's moves
    "leads:list": Row("LKKKK"),
    "leads:create": Row("LKKKK", "LKKKK", data=_new_lead),
    "leads:bulk": Row("LXXXX", "LKFFK",
                      data=lambda w: {"action": "qualify", "ids": [w.leads[Stage.NEW].pk]}),
    "leads:export": Row("LKKKK"),
    # a bulk action's job: its creator's (the marketer's) and the managers'
    "leads:bulk_detail": Row("LKNNK", kwargs=lambda w: {"pk": w.bulk_job.pk}),
    "leads:bulk_progress": Row("LKNNK", kwargs=lambda w: {"pk": w.bulk_job.pk}),
    "leads:bulk_report": Row("LKNNK", kwargs=lambda w: {"pk": w.bulk_job.pk}),
    "leads:bulk_retry": Row("LXXXX", "LKNNK", kwargs=lambda w: {"pk": w.failed_bulk.pk}),
    "leads:import": Row("LKKKK", "LKKKK", data=_import_upload),
    "leads:import_detail": Row("LNKNK", kwargs=lambda w: {"pk": w.import_job.pk}),
    "leads:import_mapping": Row("LNKNK", "LNKNK", kwargs=lambda w: {"pk": w.import_job.pk},
                                data=_mapping),
    "leads:import_progress": Row("LNKNK", kwargs=lambda w: {"pk": w.import_job.pk}),
    "leads:import_confirm": Row("LXXXX", "LNKNK", kwargs=lambda w: {"pk": w.import_job.pk},
                                data=lambda w: {"skip_invalid": "on"}),
    "leads:import_retry": Row("LXXXX", "LNKNK", kwargs=lambda w: {"pk": w.failed_import.pk}),
    "leads:saved_views": Row("LKKKK"),
    "leads:saved_view_create": Row("LXXXX", "LKKKK",
                                   data=lambda w: {"name": "Walked", "query": "flag=any"}),
    "leads:saved_view_edit": Row("LXXXX", "LNKNN", kwargs=lambda w: {"pk": w.saved_view.pk},
                                 data=lambda w: {"name": "Renamed"},
                                 notes="only the owner; a view they cannot see is a 404"),
    "leads:saved_view_delete": Row("LXXXX", "LNKNN", kwargs=lambda w: {"pk": w.saved_view.pk}),
    "leads:jobs": Row("LFFFK"),
    "leads:task_retry": Row("LFFFX", "LFFFK", kwargs=lambda w: {"message_id": w.failed_task.pk}),
    "leads:import_report": Row("LNKNK", kwargs=lambda w: {"pk": w.import_job.pk}),
    "leads:detail": Row("LKKNK", kwargs=lead(Stage.ACCEPTED)),
    "leads:edit": Row("LKKNK", "LKKNK", kwargs=lead(Stage.ACCEPTED),
                      data=lambda w: {"last_name": "Walked", "email": "walked@example.com"},
                      notes="marketing and managers any lead, a rep their own"),
    "leads:hand_off": Row("LXXXX", "LKNNK", kwargs=lead(Stage.MQL),
                          data=lambda w: {"mode": "rep", "to_user": w.users["rep"].pk}),
    "leads:qualify": Row("LXXXX", "LKNNK", kwargs=lead(Stage.NEW), data=note(score="50")),
    "leads:nurture": Row("LXXXX", "LKNNK", kwargs=lead(Stage.NEW), data=note()),
    "leads:recycle": Row("LXXXX", "LKNNK", kwargs=lead(Stage.REJECTED), data=note()),
    "leads:disqualify": Row("LXXXX", "LKNNK", kwargs=lead(Stage.NEW), data=note(reason="spam")),
    "leads:dispute": Row("LXXXX", "LKNNK", kwargs=lead(Stage.REJECTED),
                         data=lambda w: {"comment": "They did answer."}),
    # sales: the rep's own leads, the queue, and the managers' tools
    "sales:inbox": Row("LFKKK"),
    "sales:team": Row("LFFFK"),
    "sales:rep_leads": Row("LFFFK", kwargs=USER("rep")),
    "sales:rep_availability": Row("LXXXX", "LFFFK", kwargs=USER("rep"),
                                  data=lambda w: {"available": ""}),
    "sales:login_unlock": Row("LXXXX", "LFFFK", kwargs=USER("rep")),
    "sales:users": Row("LFFFK"),
    "sales:user_invite": Row("LFFFK", "LFFFK", data=lambda w: {
        "email": "walker@example.com", "role": "sales"}),
    "sales:user_detail": Row("LFFFK", kwargs=USER("other_rep")),
    "sales:user_role": Row("LXXXX", "LFFFK", kwargs=USER("other_rep"),
                           data=lambda w: {"role": "marketing"}),
    "sales:user_deactivate": Row("LXXXX", "LFFFK", kwargs=USER("other_rep"),
                                 data=lambda w: {"reassign": "round_robin"}),
    "sales:user_reactivate": Row("LXXXX", "LFFFK", kwargs=lambda w: {"user_id": w.gone.pk}),
    "sales:invitation_resend": Row("LXXXX", "LFFFK", kwargs=lambda w: {"pk": w.invitation.pk}),
    "sales:invitation_revoke": Row("LXXXX", "LFFFK", kwargs=lambda w: {"pk": w.invitation.pk}),
    "sales:bulk_reassign": Row("LXXXX", "LFFFK", data=lambda w: {
        "ids": [w.leads[Stage.ACCEPTED].pk], "to_user": w.users["other_rep"].pk}),
    "sales:disputes": Row("LFFFK"),
    "sales:dispute_detail": Row("LKKNK", kwargs=lambda w: {"pk": w.dispute.pk},
                                notes="who raised it, the rep who rejected, managers"),
    "sales:dispute_rule": Row("LFFFK", "LFFFK", kwargs=lambda w: {"pk": w.dispute.pk},
                              data=lambda w: {"ruling": "upheld"}),
    "sales:claim": Row("LFXXX", "LFKKF", kwargs=lead("queued"),
                       notes="the queue is every rep's; a manager assigns instead of claiming"),
    "sales:accept": Row("LFXNX", "LFKNK", kwargs=lead(Stage.HANDED_OFF)),
    "sales:reject": Row("LFKNK", "LFKNK", kwargs=lead(Stage.HANDED_OFF),
                        data=lambda w: {"reason": "not_a_fit"}),
    "sales:log": Row("LFKNK", "LFKNK", kwargs=lead(Stage.ACCEPTED), data=_activity),
    "sales:opportunity": Row("LFKNK", "LFKNK", kwargs=lead(Stage.CONTACTED),
                             data=lambda w: {"value": "1000"}),
    "sales:win": Row("LFKNK", "LFKNK", kwargs=lead(Stage.OPPORTUNITY),
                     data=lambda w: {"value": "1000"}),
    "sales:lose": Row("LFKNK", "LFKNK", kwargs=lead(Stage.OPPORTUNITY),
                      data=lambda w: {"reason": "price"}),
    "sales:reopen": Row("LFFNK", "LFFNK", kwargs=lead(Stage.WON), data=note()),
    "sales:note": Row("LFKNK", "LFKNK", kwargs=lead(Stage.ACCEPTED), data=note()),
    "sales:edit_opportunity": Row("LFKNK", "LFKNK", kwargs=lead(Stage.OPPORTUNITY),
                                  data=lambda w: {"value": "1000", "probability": "50"}),
    # The pipeline: reps see their own board and forecast, managers anyone's.
    "sales:board": Row("LFKKK"),
    "sales:board_move": Row("LXXXX", "LFKNK", kwargs=lead(Stage.CONTACTED),
                            data=lambda w: {"to": "opportunity"}),
    "sales:forecast": Row("LFKKK"),
    "sales:snooze": Row("LFKNK", "LFKNK", kwargs=lead(Stage.CONTACTED),
                        data=lambda w: {"snooze": "1h", "reason": "walk"}),
    "sales:task": Row("LFKNK", "LFKNK", kwargs=lead(Stage.ACCEPTED),
                      data=lambda w: {"kind": "call_back", "due_at": "2030-01-02T10:00"}),
    "sales:task_complete": Row("LXXXX", "LNKNK", kwargs=lambda w: {"pk": w.sales_task.pk},
                               notes="a rep's own tasks; a manager anyone's"),
    "sales:calendar_settings": Row("LFKKK", "LFKKK", data=lambda w: {"action": "renew"}),
    "sales:calendar_feed": Row("NNNNN", kwargs=lambda w: {"token": "not-a-token"},
                               page_form=False,
                               notes="no login: the secret token is the credential"),
    "sales:reassign": Row("LFFNK", "LFFNK", kwargs=lead(Stage.ACCEPTED),
                          data=lambda w: {"to_user": w.users["other_rep"].pk}),
    # routing: teams, capacity and assignment rules, managers only
    "sales:routing_teams": Row("LFFFK"),
    "sales:routing_team_new": Row("LFFFK", "LFFFK", data=_team_form),
    "sales:routing_team_edit": Row("LFFFK", "LFFFK", kwargs=lambda w: {"pk": w.team.pk},
                                   data=_team_form),
    "sales:routing_team_delete": Row("LFFFX", "LFFFK", kwargs=lambda w: {"pk": w.spare_team.pk}),
    "sales:routing_rep_capacity": Row("LFFFX", "LFFFK", kwargs=USER("rep"),
                                      data=lambda w: {"max_open_leads": "5"}),
    "sales:routing_rules": Row("LFFFK"),
    "sales:routing_rule_new": Row("LFFFK", "LFFFK", data=_rule_form),
    "sales:routing_rule_edit": Row("LFFFK", "LFFFK", kwargs=lambda w: {"pk": w.rule.pk},
                                   data=_rule_form),
    "sales:routing_rule_move": Row("LFFFX", "LFFFK", kwargs=lambda w: {"pk": w.rule.pk},
                                   data=lambda w: {"direction": "down"}),
    "sales:routing_rule_delete": Row("LFFFX", "LFFFK", kwargs=lambda w: {"pk": w.rule.pk}),
    # SLA policy: managers only
    "sla:policy": Row("LFFFK", "LFFFK", data=_policy),
    "sla:status": Row("LFFFK"),
    "sla:override_create": Row("LFFFK", "LFFFK", data=_override_create),
    "sla:override_edit": Row("LFFFK", "LFFFK", kwargs=lambda w: {"campaign_id": w.campaign.pk},
                             data=_thresholds()),
    "sla:override_delete": Row("LFFFK", "LFFFK", kwargs=lambda w: {"campaign_id": w.campaign.pk}),
    "sla:holiday_add": Row("LFFFX", "LFFFK", data=lambda w: {"date": "2031-01-01"}),
    "sla:holiday_delete": Row("LFFFX", "LFFFK", kwargs=lambda w: {"pk": w.holiday.pk}),
    # Webhooks and chat channels: managers; everyone sets their own channels
    "webhooks:list": Row("LFFFK"),
    "webhooks:create": Row("LFFFK", "LFFFK", data=_webhook_form),
    "webhooks:detail": Row("LFFFK", "LFFFK", kwargs=lambda w: {"pk": w.webhook.pk},
                           data=_webhook_form),
    "webhooks:rotate": Row("LFFFX", "LFFFK", kwargs=lambda w: {"pk": w.webhook.pk}),
    "webhooks:test": Row("LFFFX", "LFFFK", kwargs=lambda w: {"pk": w.webhook.pk}),
    "webhooks:delete": Row("LFFFX", "LFFFK", kwargs=lambda w: {"pk": w.webhook.pk}),
    "webhooks:user_channels": Row("LFFFK", "LFFFK",
                                  kwargs=lambda w: {"user_id": w.users["rep"].pk},
                                  data=lambda w: {"slack_webhook_url": ""}),
    "profile_channels": Row("LXXXX", "LKKKK", data=lambda w: {"slack_webhook_url": ""}),
    # Django admin: staff only (none of the roles is staff; superusers: test_stage_log.py)
    "admin:index": Row("AAAAA"),
    # JSON API: 401 without credentials; the same scope and roles as the pages
    "api:funnel": Row("UKKKK", page_form=False),
    "api:attribution": Row("UKKKK", page_form=False),
    "api:forecast": Row("UFKKK", page_form=False),
    "api:lead-list": Row("UKKKK", "UKKKK", json=True, page_form=False, data=lambda w: {
        "last_name": "Api", "email": "api@example.com", "campaign": w.campaign.pk}),
    "api:lead-detail": Row("UKKNK", kwargs=lead(Stage.ACCEPTED), page_form=False),
    "api:lead-activities": Row("UKKNK", "UFKNK", kwargs=lead(Stage.ACCEPTED), json=True,
                               data=_activity, page_form=False),
    "api:lead-claim": Row("UXXXX", "UFKKF", kwargs=lead("queued"), page_form=False),
    "api:lead-accept": Row("UXXXX", "UFKNK", kwargs=lead(Stage.HANDED_OFF), page_form=False),
    "api:lead-reject": Row("UXXXX", "UFKNK", kwargs=lead(Stage.HANDED_OFF), json=True,
                           data=lambda w: {"reason": "not_a_fit"}, page_form=False),
    "api:lead-opportunity": Row("UXXXX", "UFKNK", kwargs=lead(Stage.CONTACTED), json=True,
                                data=lambda w: {"value": "1000"}, page_form=False),
    "api:lead-won": Row("UXXXX", "UFKNK", kwargs=lead(Stage.OPPORTUNITY), json=True,
                        data=lambda w: {"value": "1000"}, page_form=False),
    "api:lead-lost": Row("UXXXX", "UFKNK", kwargs=lead(Stage.OPPORTUNITY), json=True,
                         data=lambda w: {"reason": "price"}, page_form=False),
    "api:lead-snooze": Row("UXXXX", "UFKNK", kwargs=lead(Stage.CONTACTED), json=True,
                           data=lambda w: {"preset": "1h", "reason": "walk"}, page_form=False),
    "api:lead-reopen": Row("UXXXX", "UFFNK", kwargs=lead(Stage.WON), page_form=False),
    "api:lead-reassign": Row("UXXXX", "UFFNK", kwargs=lead(Stage.ACCEPTED), json=True,
                             data=lambda w: {"to_user": w.users["other_rep"].pk},
                             page_form=False),
    "api:lead-bulk": Row("UXFFX", "UKFFK", json=True, page_form=False,
                         data=lambda w: {"action": "qualify", "ids": [w.leads[Stage.NEW].pk]}),
    "api:bulk-job-detail": Row("UKNNK", kwargs=lambda w: {"pk": w.bulk_job.pk},
                               page_form=False),
    "api:lead-qualify": Row("UXXXX", "UKNNK", kwargs=lead(Stage.NEW), page_form=False),
    "api:lead-nurture": Row("UXXXX", "UKNNK", kwargs=lead(Stage.NEW), page_form=False),
    "api:lead-disqualify": Row("UXXXX", "UKNNK", kwargs=lead(Stage.NEW), json=True,
                               data=lambda w: {"reason": "spam"}, page_form=False),
    "api:lead-recycle": Row("UXXXX", "UKNNK", kwargs=lead(Stage.REJECTED), page_form=False),
    "api:lead-hand-off": Row("UXXXX", "UKNNK", kwargs=lead(Stage.MQL), json=True,
                             data=lambda w: {"mode": "queue"}, page_form=False),
    "api:lead-dispute": Row("UXXXX", "UKNNK", kwargs=lead(Stage.REJECTED), json=True,
                            data=lambda w: {"comment": "They did answer."}, page_form=False),
    "api:campaign-list": Row("UKFFK", "UKFFK", json=True, page_form=False, data=lambda w: {
        "name": "Api campaign", "channel": "email", "start_date": "2030-01-01"}),
    "api:campaign-detail": Row("UKFFK", "UKFFK", kwargs=lambda w: {"pk": w.campaign.pk},
                               method="patch", json=True, data=lambda w: {"spend": "1234.50"},
                               page_form=False),
    "api:campaign-spend-entries": Row("UKFFK", "UKFFK", kwargs=lambda w: {"pk": w.campaign.pk},
                                      json=True, page_form=False, data=lambda w: {
        "start": "2026-10-01", "end": "2026-10-31", "amount": "4200.00"}),
    "api:campaign-rotate-key": Row("UXFFX", "UKFFK", kwargs=lambda w: {"pk": w.campaign.pk},
                                   page_form=False),
    "api:webhook-list": Row("UFFFK", "UFFFK", json=True, page_form=False, data=lambda w: {
        "url": "http://127.0.0.1:9/walk", "events": ["lead.created"]}),
    "api:webhook-detail": Row("UFFFK", "UFFFK", kwargs=lambda w: {"pk": w.webhook.pk},
                              method="patch", json=True, data=lambda w: {"description": "walk"},
                              page_form=False),
    "api:webhook-rotate-secret": Row("UFFFX", "UFFFK", kwargs=lambda w: {"pk": w.webhook.pk},
                                     page_form=False),
    "api:webhook-test": Row("UFFFX", "UFFFK", kwargs=lambda w: {"pk": w.webhook.pk},
                            page_form=False),
    "api:webhook-deliveries": Row("UFFFK", kwargs=lambda w: {"pk": w.webhook.pk},
                                  page_form=False),
    # Tasks: a salesperson's own (a manager's: anyone's); an out-of-scope lead is a 404.
    "api:task-list": Row("UFKKK", "UFKNK", json=True, page_form=False, data=lambda w: {
        "lead": w.leads[Stage.ACCEPTED].pk, "kind": "call_back",
        "due_at": (w.sales_task.due_at + dt.timedelta(hours=1)).isoformat()}),
    "api:task-detail": Row("UFKNK", kwargs=lambda w: {"pk": w.sales_task.pk}, page_form=False),
    "api:task-complete": Row("UFXXX", "UFKNK", kwargs=lambda w: {"pk": w.sales_task.pk},
                             page_form=False),
    "api:dispute-list": Row("UKKKK", page_form=False),
    "api:user-list": Row("UKKKK", page_form=False),
    "api:saved-view-list": Row("UKKKK", "UKKKK", json=True, page_form=False,
                               data=lambda w: {"name": "Walked", "query": "flag=any"}),
    "api:dispute-detail": Row("UKNNK", kwargs=lambda w: {"pk": w.dispute.pk}, page_form=False),
    "api:dispute-rule": Row("UXXXX", "UFNNK", kwargs=lambda w: {"pk": w.dispute.pk}, json=True,
                            data=lambda w: {"ruling": "upheld"}, page_form=False),
    "api:team-list": Row("UKKKK", "UFFFK", json=True, page_form=False, data=lambda w: {
        "name": "Api team", "lead": w.users["manager"].pk}),
    "api:team-detail": Row("UKKKK", "UFFFK", kwargs=lambda w: {"pk": w.team.pk},
                           method="patch", json=True, data=lambda w: {"name": "Api renamed"},
                           page_form=False),
    "api:assignment-rule-list": Row("UFFFK", "UFFFK", json=True, page_form=False,
                                    data=lambda w: {"name": "Api rule", "target": "queue"}),
    "api:assignment-rule-detail": Row("UFFFK", "UFFFK", kwargs=lambda w: {"pk": w.rule.pk},
                                      method="patch", json=True,
                                      data=lambda w: {"name": "Api renamed"}, page_form=False),
    "api:assignment-rule-preview": Row("UFFFX", "UFFFK", json=True, page_form=False,
                                       data=lambda w: {"country": "NL"}),
    r"api/v1/.*$": Row("NNNNN", url=lambda w: "/api/v1/no-such-thing/", page_form=False,
                        notes="unknown API paths answer JSON"),
}
# fmt: on

# Checked by their own tests (test_url_walk.py), public by design: the API's schema and docs,
# and the health endpoints, whose answer depends on beat's tick and the last sweep.
OWN_CHECKS = {"api:schema", "api:docs", "health", "health_beat"}


@dataclass(frozen=True)
class Pattern:
    key: str  # the table's key: the URL name, or the route of an unnamed pattern
    route: str
    default_args: dict


def walk_patterns(patterns=None, prefix="", namespace=None):
    """Every URL pattern of the project, with its full route and namespaced name; Django
    admin's own pages beyond its index are left out."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace
            full_ns = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from walk_patterns(p.url_patterns, _join(prefix, str(p.pattern)), full_ns)
            continue
        assert isinstance(p, URLPattern)
        route = _join(prefix, str(p.pattern))
        name = f"{namespace}:{p.name}" if namespace and p.name else p.name
        if route.startswith("admin/") and name != "admin:index":
            continue  # Django admin's own pages: its index stands for them
        yield Pattern(
            key=name or route,
            route=route,
            default_args=p.default_args,
        )


def _join(prefix, route):
    # As Django's ResolverMatch.route: a nested regex loses its leading "^".
    return prefix + (route[1:] if prefix and route.startswith("^") else route)


def url_for(pattern, row, world):
    from django.urls import resolve, reverse

    if row.url is not None:
        return row.url(world)
    url = reverse(pattern.key, kwargs=row.kwargs(world) if row.kwargs else {})
    # Two patterns under one name would leave one of them unwalked: give each its own name.
    assert resolve(url).route == pattern.route, (url, pattern.route)
    return url


def body(row, world):
    data = row.data(world) if row.data else {}
    return data
