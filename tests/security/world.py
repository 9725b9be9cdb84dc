"""One object of every kind the URLs point at, built through the real services, plus the
users of every role: the fixture of the URL walk (test_url_walk.py), the CSRF and CSP
checks and the fuzz pass.

"rep" owns the sales-side leads; "other rep" is a second salesperson to whom each of them
is another rep's lead (a 404).
"""

import datetime as dt
from dataclasses import dataclass
from html.parser import HTMLParser

from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.utils import timezone

from leadflow import services as account_services
from leadflow.models import Notification, NotificationKind
from leads import services as marketing
from leads.imports import services as imports
from leads.models import ImportJob, ImportStatus, Lead, Stage
from leads.sla import services as sla_services
from sales.models import Task
from tests import factories
from tests.lifecycle import LeadMaker

ROLES = ("anon", "marketer", "rep", "other_rep", "manager")

CSV = (
    b"First Name,Last Name,Email,Company\n"
    b"Grace,Hopper,grace@example.com,Navy\n"
    b"Alan,Turing,alan@example.com,NPL\n"
)


@dataclass
class World:
    users: dict
    campaign: object
    leads: dict
    import_job: object
    failed_import: object
    dispute: object
    notification: object
    token: object
    override: object
    holiday: object
    bare_campaign: object
    failed_task: object
    invitation: object
    gone: object  # a deactivated rep, for reactivation
    webhook: object
    team: object
    spare_team: object
    rule: object
    bulk_job: object  # the marketer's, queued
    failed_bulk: object  # the marketer's, failed
    saved_view: object  # rep's private view of the lead list
    sales_task: object  # rep's open task on their accepted lead

    def client(self, role, **kwargs):
        client = Client(**kwargs)
        if role != "anon":
            client.force_login(self.users[role])
        return client

    def user(self, role):
        return self.users.get(role) or AnonymousUser()


def build_world():
    users = {
        "marketer": factories.marketer(username="marketer"),
        "rep": factories.rep(username="rep1"),
        "other_rep": factories.rep(username="rep2"),
        "manager": factories.manager(username="manager"),
    }
    m, rep, manager = users["marketer"], users["rep"], users["manager"]
    campaign = factories.CampaignFactory(owner=m, allowed_origin="https://www.example.com")
    bare_campaign = factories.CampaignFactory(owner=m, name="No override")
    make = LeadMaker(marketer=m, rep=rep, manager=manager, campaign=campaign)
    leads = {stage: make(stage) for stage in Stage.values}
    queued = marketing.lead_qualify(lead=make.new(), by=m)
    marketing.lead_hand_off(lead=queued, by=m, to_user=None)
    queued.refresh_from_db()
    leads["queued"] = queued
    # A second rejected lead, disputed: the dispute the managers rule on.
    disputed = make(Stage.REJECTED)
    dispute = marketing.dispute_raise(lead=disputed, by=m, comment="They asked for a demo.")
    leads["disputed"] = disputed

    job = imports.import_create(by=rep, filename="leads.csv", raw=CSV)
    job = imports.import_set_mapping(
        job=job, by=rep, mapping=job.mapping, default_campaign=campaign
    )
    imports.import_validate(job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.VALIDATED and job.valid_rows == 2, job.status
    failed = imports.import_create(by=rep, filename="again.csv", raw=CSV)
    failed = imports.import_set_mapping(
        job=failed, by=rep, mapping=failed.mapping, default_campaign=campaign
    )
    imports.import_validate(failed.pk)
    ImportJob.objects.filter(pk=failed.pk).update(status=ImportStatus.FAILED, error="Worker lost")
    failed.refresh_from_db()

    notification = Notification.objects.create(
        user=rep,
        kind=NotificationKind.HANDED_TO_YOU,
        lead=leads[Stage.HANDED_OFF],
        actor=m,
        text="Handed to you",
        url=leads[Stage.HANDED_OFF].get_absolute_url(),
    )
    token, _plain = account_services.api_token_create(user=rep, name="sync")
    thresholds = dict.fromkeys(sla_services.THRESHOLD_FIELDS, 30)
    override, _recompute = sla_services.sla_override_save(
        by=manager, campaign=campaign, data=thresholds
    )
    holiday, _recompute = sla_services.holiday_add(
        by=manager, date=dt.date(2030, 12, 25), name="Christmas"
    )
    # A follow-up to snooze on the contacted lead, and a task to complete.
    contacted = leads[Stage.CONTACTED]
    Lead.objects.filter(pk=contacted.pk).update(
        next_follow_up_at=timezone.now() + dt.timedelta(days=1)
    )
    contacted.refresh_from_db()
    sales_task = Task.objects.create(
        lead=leads[Stage.ACCEPTED],
        user=rep,
        kind="call_back",
        title="Walk",
        due_at=timezone.now() + dt.timedelta(days=1),
    )
    return World(
        users=users,
        campaign=campaign,
        leads=leads,
        import_job=job,
        failed_import=failed,
        dispute=dispute,
        notification=notification,
        token=token,
        override=override,
        holiday=holiday,
        bare_campaign=bare_campaign,
        failed_task=_failed_task(),
        invitation=account_services.invitation_create(
            by=manager, email="invited@example.com", role="sales"
        ),
        gone=factories.rep(username="gone", is_active=False),
        webhook=_webhook(manager),
        saved_view=marketing.saved_view_save(
            by=rep, name="Walked view", shared=False, query="flag=any"
        ),
        sales_task=sales_task,
        **_routing(users),
        **_bulk_jobs(m, leads),
    )


def _bulk_jobs(marketer, leads):
    """A queued bulk action of the marketer's (the outbox never publishes its run: the
    walk's transaction never commits) and a failed one, for its Retry."""
    from leads.bulk import services as bulk
    from leads.models import BulkJob, BulkStatus

    queued = bulk.bulk_job_create(
        by=marketer, action="nurture", params={}, lead_ids=[leads[Stage.NEW].pk]
    )
    failed = bulk.bulk_job_create(
        by=marketer, action="nurture", params={}, lead_ids=[leads[Stage.NEW].pk]
    )
    BulkJob.objects.filter(pk=failed.pk).update(status=BulkStatus.FAILED, error="Worker lost")
    failed.refresh_from_db()
    return {"bulk_job": queued, "failed_bulk": failed}


def _webhook(manager):
    """An endpoint on loopback (allow-listed by the security tests' conftest); nothing is
    sent to it, since the walk's transaction never commits."""
    from leadflow.models import WebhookEndpoint

    return WebhookEndpoint.objects.create(
        url="http://127.0.0.1:9/hook", events=["lead.won"], secret="whsec_walk", created_by=manager
    )


def _routing(users):
    """A team a rule targets, and a spare team nothing targets (one that can be deleted)."""
    from sales.models import AssignmentRule, RuleTarget, Team, TeamMembership

    team = Team.objects.create(name="Benelux", lead=users["manager"])
    TeamMembership.objects.create(team=team, user=users["rep"])
    spare = Team.objects.create(name="Spare", lead=users["manager"])
    rule = AssignmentRule.objects.create(
        name="Benelux", position=1, target=RuleTarget.TEAM, target_team=team
    )
    return {"team": team, "spare_team": spare, "rule": rule}


def _failed_task():
    """A background task that gave up (the jobs page's Retry)."""
    import uuid

    from django.utils import timezone

    from leadflow.models import OutboxMessage

    now = timezone.now()
    return OutboxMessage.objects.create(
        id=uuid.uuid4(),
        task="leadflow.tasks.ping",
        created_at=now,
        due_at=now,
        failed_at=now,
        last_error="walk",
    )


# --- reading pages ----------------------------------------------------------------------


class _FormParser(HTMLParser):
    """The forms of a page as a browser would submit them: every named input, select and
    textarea with its current value (checked boxes only, selected options only)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._form = None
        self._select = None
        self._select_values = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {
                "action": a.get("action", ""),
                "method": a.get("method", "get").lower(),
                "fields": [],
                "names": [],
                "types": {},
            }
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        if tag == "option":
            if self._select is not None:
                value = a.get("value", "")
                if self._select_values["first"] is None:
                    self._select_values["first"] = value
                if "selected" in a:
                    self._select_values["selected"].append(value)
            return
        name = a.get("name")
        if not name:
            return
        if tag == "input":
            kind = a.get("type", "text").lower()
            self._note(name, kind)
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._form["fields"].append((name, a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self._note(name, "select-multiple" if "multiple" in a else "select")
            self._select = name
            self._select_values = {"selected": [], "first": None, "multiple": "multiple" in a}
        elif tag == "textarea":
            self._note(name, "textarea")
            self._textarea = [name, ""]

    def _note(self, name, kind):
        if name and name not in self._form["names"]:
            self._form["names"].append(name)
            self._form["types"][name] = kind

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            values = self._select_values
            chosen = values["selected"] or (
                [] if values["multiple"] or values["first"] is None else [values["first"]]
            )
            self._form["fields"].extend((self._select, v) for v in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, text = self._textarea
            self._form["fields"].append((name, text.removeprefix("\n")))
            self._textarea = None
        elif tag == "form":
            self._form = None


def forms_on(html):
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def form_data(form, **overrides):
    """A form's fields as a dict for Client.post (lists for repeated names)."""
    data = {}
    for name, value in form["fields"]:
        data.setdefault(name, []).append(value)
    data = {k: v[0] if len(v) == 1 else v for k, v in data.items()}
    data.pop("csrfmiddlewaretoken", None)
    data.update(overrides)
    return data


class _InlineFinder(HTMLParser):
    """What a Content-Security-Policy without 'unsafe-inline' would block in a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and "src" not in a and a.get("type") != "application/json":
            self.found.append(f"inline <script> at line {self.getpos()[0]}")
        if tag == "style":
            self.found.append(f"<style> element at line {self.getpos()[0]}")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…> handler at line {self.getpos()[0]}")
            elif name == "style":
                self.found.append(f'<{tag} style="{value}"> at line {self.getpos()[0]}')
            elif name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:…> at line {self.getpos()[0]}")

    handle_startendtag = handle_starttag


def inline_code(html):
    finder = _InlineFinder()
    finder.feed(html)
    return finder.found


def csp_problems(response):
    """Why ``response`` breaks the site's CSP promise: no header, or inline code."""
    problems = []
    policy = response.get("Content-Security-Policy", "")
    if "script-src 'self'" not in policy or "unsafe-inline" in policy:
        problems.append(f"Content-Security-Policy: {policy!r}")
    if response.get("Content-Type", "").startswith("text/html") and not getattr(
        response, "streaming", False
    ):
        problems.extend(inline_code(response.content.decode("utf-8", "replace")))
    return problems
