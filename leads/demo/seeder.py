"""Deterministic demo data (``manage.py seed_demo``).

Each lead's life is simulated forward from its creation moment with the rules of
SPEC §3: every timestamp follows the previous one and none lies after ``now``, so
a lead created yesterday is still early in its life while a lead from last year
is mostly closed. Rows are streamed to the database in chunks: COPY on PostgreSQL,
executemany elsewhere. Deadlines come from :func:`leads.sla.calendar.refresh_deadlines`, and
the flags a sweep would have raised and resolved are written with them.
"""

import datetime as dt
import io
import math
import random
from collections import namedtuple
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone

from campaigns.models import Campaign, Channel, SpendEntry, new_intake_key
from leadflow import roles
from leadflow.dates import start_of_day
from leadflow.models import Notification, Profile
from sales.models import (
    Activity,
    Dispute,
    DisputeRuling,
    Handoff,
    Objection,
    summarise_contact,
)

from ..models import (
    COURT_FIELDS,
    FLAG_DEADLINE,
    FLAG_SIDE,
    PIPELINE_PROBABILITY,
    Flag,
    FlagKind,
    JointSLAMailing,
    JointSLATerms,
    Lead,
    LostReason,
    MarketingTarget,
    Origin,
    Side,
    Stage,
    StageChange,
    Touch,
    add_stretch,
)
from ..sla.calendar import DEADLINE_FIELDS, INPUT_FIELDS, SLA, TERMS_FIELDS, refresh_deadlines

User = get_user_model()
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)

FIRST_NAMES = (
    "Anna Bram Chantal Daan Eva Fleur Gijs Hanna Iris Jasper Kim Lars Lotte Maarten Noor Olivier "
    "Pieter Quinten Roos Sanne Thijs Ursula Vera Willem Xander Yara Zoe Emma Liam Sophie Noah "
    "Julia Lucas Mila Finn Sara Sem Tess Levi Nina Luuk James Olivia Ben Chloe Jack Grace Sam"
).split()
LAST_NAMES = (
    "de Jong|Jansen|de Vries|van den Berg|van Dijk|Bakker|Janssen|Visser|Smit|Meijer|de Boer|"
    "Mulder|de Groot|Bos|Vos|Peters|Hendriks|van Leeuwen|Dekker|Brouwer|de Wit|Dijkstra|Smits|"
    "de Graaf|van der Meer|Smith|Jones|Taylor|Brown|Williams|Wilson|Evans|Thomas|Roberts|Walker"
).split("|")
COMPANY_A = "Noord Zuid Delta Polder Rijn Maas Lage Hoge Oranje Blauw Groen Snel Slim Vast".split()
COMPANY_B = "Logistiek Software Bouw Techniek Zorg Media Advies Energie Retail Finance".split()
COMPANY_C = ("B.V.", "N.V.", "Groep", "& Co", "Ltd", "GmbH", "")
TITLES = (
    "CEO",
    "CFO",
    "Head of Operations",
    "IT Manager",
    "Procurement Lead",
    "Office Manager",
    "Marketing Director",
    "Founder",
    "Project Manager",
    "Engineer",
)
COUNTRIES = ("Netherlands", "Netherlands", "Netherlands", "Belgium", "Germany", "United Kingdom")
DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "bedrijf.example")
INQUIRY_BY_CHANNEL = {
    Channel.SEARCH_ADS: ("web_form", "information_request", "phone_call"),
    Channel.SOCIAL_ADS: ("web_form", "web_form", "information_request"),
    Channel.EMAIL: ("email", "web_form", "information_request"),
    Channel.EVENTS: ("event", "event", "phone_call"),
    Channel.CONTENT: ("web_form", "information_request", "email"),
    Channel.REFERRAL: ("phone_call", "email", "other"),
    Channel.PARTNER: ("email", "phone_call", "information_request"),
    Channel.OTHER: ("other", "phone_call", "email"),
}
UTM_BY_CHANNEL = {
    Channel.SEARCH_ADS: ("google", "cpc"),
    Channel.SOCIAL_ADS: ("linkedin", "paid_social"),
    Channel.EMAIL: ("newsletter", "email"),
    Channel.EVENTS: ("event", "offline"),
    Channel.CONTENT: ("blog", "organic"),
    Channel.REFERRAL: ("referral", "referral"),
    Channel.PARTNER: ("partner", "partner"),
    Channel.OTHER: ("", ""),
}
CAMPAIGN_NAMES = {
    Channel.SEARCH_ADS: ("Google Ads – brand", "Google Ads – generic terms", "Bing Ads"),
    Channel.SOCIAL_ADS: ("LinkedIn lead gen", "Meta retargeting", "LinkedIn ABM"),
    Channel.EMAIL: ("Monthly newsletter", "Product launch mailing", "Win-back mailing"),
    Channel.EVENTS: ("Trade fair Utrecht", "Webinar series", "Customer day"),
    Channel.CONTENT: ("Whitepaper download", "Blog / SEO", "ROI calculator"),
    Channel.REFERRAL: ("Customer referral programme", "Word of mouth"),
    Channel.PARTNER: ("Reseller network", "Integration partners"),
    Channel.OTHER: ("Inbound phone (untracked)",),
}
# Per channel: (qualification rate, rejection rate): the dashboard should show differences.
CHANNEL_QUALITY = {
    Channel.SEARCH_ADS: (0.70, 0.18),
    Channel.SOCIAL_ADS: (0.60, 0.32),
    Channel.EMAIL: (0.72, 0.15),
    Channel.EVENTS: (0.80, 0.12),
    Channel.CONTENT: (0.65, 0.25),
    Channel.REFERRAL: (0.85, 0.08),
    Channel.PARTNER: (0.82, 0.10),
    Channel.OTHER: (0.60, 0.22),
}
# How each rep works: the median minutes to respond to a handoff and from accepting to the
# first attempt (log-normal around them), how often they reject and win, the share of their
# activities they log a day or more late, and how often they keep calling a lead who never
# answers until it counts as unreachable (else they give up after one or two tries).
RepStyle = namedtuple(
    "RepStyle", "response_minutes reject_factor contact_minutes win_rate late_share diligence"
)
REP_STYLE = (
    RepStyle(10, 0.8, 10, 0.55, 0.03, 0.85),  # rep1: fast and thorough
    RepStyle(25, 1.0, 30, 0.45, 0.08, 0.7),  # rep2: steady
    RepStyle(8 * 60, 1.5, 16 * 60, 0.35, 0.25, 0.3),  # rep3: slow, often > 24 h, logs late
)
# Hand-raisers (a phone call, an information request, a web form, an email) get a short
# triage threshold: marketing triages them within minutes and hands them over within hours.
HAND_RAISER_TRIAGE_MINUTES = 15
HAND_RAISER_HANDOFF_MINUTES = 20
# Attempts before a connect: each unanswered call or email is followed by another until
# the lead answers; some people never answer.
CONNECT_CHANCE = 0.4
UNREACHABLE_SHARE = 0.16
REJECTION_REASONS = (
    "not_a_fit",
    "no_budget",
    "bad_contact_data",
    "duplicate",
    "spam",
    "not_interested",
)
LOST_REASONS = ("price", "competitor", "timing", "no_decision", "unresponsive", "other")
DISQUALIFY_REASONS = ("not_a_fit", "no_budget", "bad_contact_data", "spam", "competitor")
OBJECTIONS = ("price", "timing", "competitor", "no_need", "authority", "other")
OUTCOMES = {
    "call": ("connected", "voicemail", "no_answer", "connected", "objection"),
    "email": ("replied", "no_answer", "replied"),
    "meeting": ("meeting_held", "meeting_held", "objection"),
}
UNANSWERED = {"call": ("no_answer", "voicemail"), "email": ("no_answer",)}
CONNECTS = {
    "call": ("connected", "connected", "objection"),
    "email": ("replied",),
    "meeting": ("meeting_held",),
}


def _model_columns(model):
    return [f.column for f in model._meta.concrete_fields]


def _adapt_sqlite(value):
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


class _Sink:
    """Buffers rows per table and writes them with COPY (PostgreSQL) or executemany."""

    def __init__(self, models):
        self.tables = {m: (m._meta.db_table, _model_columns(m)) for m in models}
        self.rows = {m: [] for m in models}
        self.counts = dict.fromkeys(models, 0)
        self.postgres = connection.vendor == "postgresql"

    def add(self, model, row):
        self.rows[model].append(row)

    def flush(self):
        with connection.cursor() as cursor:
            for model, rows in self.rows.items():
                if not rows:
                    continue
                table, columns = self.tables[model]
                cols = ", ".join(connection.ops.quote_name(c) for c in columns)
                if self.postgres:
                    with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                else:
                    rows[:] = [tuple(map(_adapt_sqlite, row)) for row in rows]
                    marks = ", ".join(["%s"] * len(columns))
                    cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
                self.counts[model] += len(rows)
                rows.clear()


class _Ids:
    def __init__(self, models):
        self.next = {}
        for model in models:
            last = model.objects.order_by("-pk").values_list("pk", flat=True).first()
            self.next[model] = (last or 0) + 1

    def take(self, model):
        value = self.next[model]
        self.next[model] = value + 1
        return value


class _LeadState:
    """The attributes refresh_deadlines reads, without a model instance per lead."""

    __slots__ = (*INPUT_FIELDS, *DEADLINE_FIELDS)
    FROM_ROW = INPUT_FIELDS[1:]  # all but campaign_id, in the seeder's row order
    clock_start = Lead.clock_start


class _ActivityState:
    """One seeded activity, with Activity.counts_at (the one definition) without a model
    instance per row."""

    __slots__ = ("id", "kind", "outcome", "occurred_at", "logged_at", "logged_late", "follow")
    counts_at = Activity.counts_at


class _ContactSummary:
    """The lead fields sales.models.summarise_contact sets."""

    __slots__ = (
        "first_contact_at",
        "first_connect_at",
        "last_contact_at",
        "last_activity_at",
        "attempts_before_connect",
    )


LEAD_COLUMNS = _model_columns(Lead)


def ensure_users(password):
    """The five demo users of SPEC §6, with their roles; passwords (re)set to ``password``."""
    spec = [
        ("marketer", "Maud", "Marketing", roles.MARKETING),
        ("rep1", "Ruben", "de Vries", roles.SALES),
        ("rep2", "Sanne", "Bakker", roles.SALES),
        ("rep3", "Tom", "Visser", roles.SALES),
        ("manager", "Mila", "Janssen", roles.MANAGERS),
    ]
    users = {}
    for username, first, last, role in spec:
        user, _ = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"},
        )
        user.set_password(password)
        user.is_active = True
        user.save()
        # get_or_create: a transactional test's flush also removes the migration's groups.
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        Profile.objects.get_or_create(user=user)
        users[username] = user
    return users


# Per channel: how a campaign's spend falls over the months of its life. "steady": about
# the same each month; "front": the first month carries `first` of it (an event's
# venue and stand, a whitepaper's production); "none": no money spent.
SPEND_PATTERN = {
    Channel.SEARCH_ADS: ("steady", 0),
    Channel.SOCIAL_ADS: ("steady", 0),
    Channel.EMAIL: ("steady", 0),
    Channel.EVENTS: ("front", 0.7),
    Channel.CONTENT: ("front", 0.4),
    Channel.REFERRAL: ("steady", 0),
    Channel.PARTNER: ("steady", 0),
    Channel.OTHER: ("none", 0),
}


def _months(first, last):
    """(start, end) of each calendar month overlapping [first, last], clipped to it."""
    out, day = [], first
    while day <= last:
        following = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        out.append((day, min(last, following - dt.timedelta(days=1))))
        day = following
    return out


def _spend_entries(campaigns, shares, seed, now):
    """One spend entry per campaign per month of its life up to today, adding up to its
    share of the budget, in the channel's pattern (SPEND_PATTERN), with some noise."""
    entries = []
    today = timezone.localtime(now).date()
    for campaign, share in zip(campaigns, shares, strict=True):
        pattern, first = SPEND_PATTERN[campaign.channel]
        last = min(campaign.end_date or today, today)
        if pattern == "none" or last < campaign.start_date:
            continue
        rng = random.Random(f"{seed}:spend:{campaign.utm_campaign}")
        months = _months(campaign.start_date, last)
        weights = [((b - a).days + 1) * rng.uniform(0.75, 1.25) for a, b in months]
        if pattern == "front" and len(months) > 1:
            rest = sum(weights[1:])
            weights = [first * rest / (1 - first), *weights[1:]]
        total = campaign.budget * Decimal(share)
        scale = total / Decimal(sum(weights))
        entries += [
            SpendEntry(
                campaign=campaign,
                start=a,
                end=b,
                amount=(Decimal(w) * scale).quantize(Decimal("1.00")),
                note="Monthly invoice",
            )
            for (a, b), w in zip(months, weights, strict=True)
        ]
    SpendEntry.objects.bulk_create(entries, batch_size=1000)


def _campaigns(rng, now, marketer, seed=0):
    campaigns, shares = [], []
    for channel, names in CAMPAIGN_NAMES.items():
        for i, name in enumerate(names):
            start = (now - dt.timedelta(days=rng.randint(200, 400))).date()
            ongoing = i == 0 or rng.random() < 0.5
            end = None if ongoing else start + dt.timedelta(days=rng.randint(60, 240))
            budget = Decimal(rng.randrange(2000, 60000, 500))
            # The share of its budget the campaign spends (drawn here, where the single
            # spend value was, so the rest of the data stays the same for a seed).
            shares.append(rng.uniform(0.4, 1.1))
            campaigns.append(
                Campaign(
                    name=name,
                    channel=channel,
                    start_date=start,
                    end_date=end,
                    budget=budget,
                    # A few campaigns have no owner: their marketing flags go to managers.
                    owner=None if (channel == Channel.OTHER) else marketer,
                    utm_campaign=f"{channel}-{i + 1}".replace("_", "-"),
                    description=f"{Channel(channel).label} campaign ({name}).",
                    intake_key=new_intake_key(),
                    allowed_origin="https://www.example.com",
                )
            )
    Campaign.objects.bulk_create(campaigns)
    codes = [c.utm_campaign for c in campaigns]
    by_code = {c.utm_campaign: c for c in Campaign.objects.filter(utm_campaign__in=codes)}
    _spend_entries([by_code[c.utm_campaign] for c in campaigns], shares, seed, now)
    return list(Campaign.objects.order_by("pk"))


# About 30 % of the leads get 1-4 more touches from other campaigns (1.65 on average):
# about 1.5 touches per lead in all.
MORE_TOUCHES_SHARE = 0.3
MORE_TOUCHES_WEIGHTS = (0.6, 0.22, 0.11, 0.07)


class Seeder:
    CHUNK = 5000

    def __init__(self, *, leads, seed, now=None, password="demo", stdout=None):
        self.n = leads
        self.seed = seed
        self.rng = random.Random(seed)
        self.touch_rng = random.Random(f"touches-{seed}")
        self.now = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
        self.password = password
        self.stdout = stdout or io.StringIO()
        self.sla = SLA()
        self.grace = dt.timedelta(minutes=self.sla.global_policy.late_grace_minutes)

    def run(self):
        users = ensure_users(self.password)
        self.marketer = users["marketer"]
        self.manager = users["manager"]
        self.reps = [users["rep1"], users["rep2"], users["rep3"]]
        with transaction.atomic():
            self.campaigns = _campaigns(self.rng, self.now, self.marketer, self.seed)
        models = (Lead, Touch, StageChange, Handoff, Activity, Objection, Dispute, Flag)
        self.ids = _Ids(models)
        self.sink = _Sink(models)
        lead_defaults = {f.column: f.get_default() for f in Lead._meta.concrete_fields}
        self.lead_defaults = lead_defaults
        for start in range(0, self.n, self.CHUNK):
            with transaction.atomic():
                for _ in range(min(self.CHUNK, self.n - start)):
                    self._lead()
                self.sink.flush()
        self._fix_sequences(models)
        self._profiles()
        self._joint_sla()
        return self.sink.counts

    def _joint_sla(self):
        with transaction.atomic():
            _joint_sla_targets(self.now, self.manager, self.sla.global_policy.unreached_attempts)

    # --- helpers -----------------------------------------------------------
    def _fix_sequences(self, models):
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            for model in models:
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table}), 1))"
                )
            cursor.execute(f"ANALYZE {', '.join(m._meta.db_table for m in models)}")

    def _profiles(self):
        for rep in self.reps:
            Profile.objects.filter(user=rep).update(last_assigned_at=self.now - H)
        Notification.objects.filter(user__in=[*self.reps, self.marketer, self.manager]).delete()

    def _stage_change(self, lead_id, frm, to, by, at, note=""):
        # The court-time ledger, stretch by stretch as lifecycle.move keeps it.
        self._court_since = add_stretch(self._court, frm, self._court_since, at)
        self.sink.add(
            StageChange,
            (self.ids.take(StageChange), lead_id, frm, to, by.pk if by else None, at, note),
        )

    def _flag(self, lead_id, kind, responsible, due, raised, resolved, breach=False):
        notified = raised  # demo history: as if the notification went out when raised
        self.sink.add(
            Flag,
            (
                self.ids.take(Flag),
                lead_id,
                kind,
                FLAG_SIDE[kind].value,
                responsible,
                due,
                self._created,  # Flag.lead_created_at
                raised,
                resolved,
                breach,  # Flag.closed_as_breach: a claim took the lead from its holder
                notified,
                None,  # Flag.notify_lease_until
            ),
        )

    def _maybe_breach(self, lead_id, kind, responsible, due, acted_at):
        """A resolved flag when the action came after the deadline (a sweep would have
        raised it at the deadline and resolved it at the action)."""
        if acted_at is not None and acted_at > due:
            self._flag(lead_id, kind, responsible, due, due, acted_at)

    def _h(self, lo, hi):
        return dt.timedelta(hours=self.rng.uniform(lo, hi))

    def _around(self, median_minutes, sigma=1.0):
        """A log-normal duration: mostly near the median, sometimes much longer."""
        return dt.timedelta(minutes=self.rng.lognormvariate(math.log(median_minutes), sigma))

    # --- one lead ----------------------------------------------------------
    def _lead(self):
        rng, now = self.rng, self.now
        lead_id = self.ids.take(Lead)
        # Newer leads are a little more frequent (a growing pipeline).
        age = dt.timedelta(days=365 * (rng.random() ** 1.15))
        created = now - age
        self._created = created
        self._court = dict.fromkeys(COURT_FIELDS.values(), 0)
        self._court_since = None
        campaign = rng.choice(self.campaigns)
        channel = campaign.channel
        sales_generated = rng.random() < 0.07
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        company = (
            f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)} {rng.choice(COMPANY_C)}".strip()
        )
        local = f"{first}.{last}".lower().replace(" ", "")
        row = dict(self.lead_defaults)
        source, medium = UTM_BY_CHANNEL[channel]
        row.update(
            id=lead_id,
            first_name=first,
            last_name=last,
            email=f"{local}.{lead_id}@{rng.choice(DOMAINS)}",
            phone=f"+31 6 {rng.randint(10000000, 99999999)}",
            company=company,
            job_title=rng.choice(TITLES),
            country=rng.choice(COUNTRIES),
            consent=rng.random() < 0.8,
            campaign_id=campaign.pk,
            last_touch_campaign_id=campaign.pk,
            inquiry_type=rng.choice(INQUIRY_BY_CHANNEL[channel]),
            utm_source=source,
            utm_medium=medium,
            utm_campaign=campaign.utm_campaign if source else "",
            created_at=created,
            updated_at=now,
            score=rng.randint(0, 100) if rng.random() < 0.6 else None,
            created_by_id=self.marketer.pk,
        )
        if row["consent"]:
            row.update(consent_at=created, consent_source="seed")
        self.sink.add(
            Touch,
            (
                self.ids.take(Touch),
                lead_id,
                None if sales_generated else campaign.pk,
                row["inquiry_type"],
                "seed",
                created,
                self.marketer.pk,
                source,
                medium,
                row["utm_campaign"],
                "",
                "",
                "",
                # The consent answer the first inquiry carried (the lead's consent).
                True if row["consent"] else None,
            ),
        )
        state = _LeadState()
        for name in _LeadState.__slots__:
            setattr(state, name, None)
        state.campaign_id = campaign.pk
        if sales_generated:
            self._sales_generated(row, created)
        else:
            self._marketing_life(row, created, campaign)
        self._more_touches(row, created)
        for name in _LeadState.FROM_ROW:
            setattr(state, name, row[name])
        refresh_deadlines(state, self.sla)
        for name in TERMS_FIELDS:  # the contract of the latest handoff, taken just now
            row[name] = getattr(state, name)
        responsible = self._responsible(row, campaign)
        for kind, column in FLAG_DEADLINE.items():
            due = getattr(state, column)
            row[column] = due
            if due is not None and due <= now:
                self._flag(lead_id, kind, responsible[FLAG_SIDE[kind]], due, due, None)
        row.update(self._court, court_since=self._court_since)
        self.sink.add(Lead, tuple(row[c] for c in LEAD_COLUMNS))

    def _more_touches(self, row, created):
        """Some people inquire again, through other campaigns, before the lead closes (some
        before its MQL or handoff): extra touches for the attribution models. They come
        from their own random stream, so the touches do not change the leads' lives."""
        rng = self.touch_rng
        if rng.random() >= MORE_TOUCHES_SHARE:
            return
        end = row["closed_at"] or self.now
        early = row["handed_off_at"] or row["mql_at"] or end
        others = [c for c in self.campaigns if c.pk != row["campaign_id"]]
        at = []
        for _ in range(rng.choices((1, 2, 3, 4), MORE_TOUCHES_WEIGHTS)[0]):
            until = early if rng.random() < 0.4 else end
            at.append(created + (until - created) * rng.random())
        for moment in sorted(at):
            other = rng.choice(others)
            row["last_touch_campaign_id"] = other.pk
            self.sink.add(
                Touch,
                (
                    self.ids.take(Touch),
                    row["id"],
                    other.pk,
                    rng.choice(INQUIRY_BY_CHANNEL[other.channel]),
                    "seed",
                    moment,
                    self.marketer.pk,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    None,
                ),
            )

    def _responsible(self, row, campaign):
        return {Side.SALES: row["owner_id"], Side.MARKETING: campaign.owner_id}

    def _set_stage(self, row, stage):
        row["stage"] = stage
        row["owner_side"] = (
            Side.SALES.value
            if stage in ("handed_off", "accepted", "contacted", "opportunity")
            else Side.CLOSED.value
            if stage in ("won", "lost")
            else Side.MARKETING.value
        )

    def _sales_generated(self, row, created):
        rep = self.rng.choice(self.reps)
        row.update(origin=Origin.SALES, owner_id=rep.pk, accepted_at=created, created_by_id=rep.pk)
        row["campaign_id"] = row["last_touch_campaign_id"] = None
        row["utm_source"] = row["utm_medium"] = row["utm_campaign"] = ""
        self._set_stage(row, "accepted")
        self._stage_change(row["id"], "", "accepted", rep, created)
        self._sales_work(row, rep, self.reps.index(rep), created, handoff_at=None)

    def _marketing_life(self, row, created, campaign):
        rng, now, lead_id = self.rng, self.now, row["id"]
        qualify_rate, reject_rate = CHANNEL_QUALITY[campaign.channel]
        self._set_stage(row, "new")
        self._stage_change(lead_id, "", "new", self.marketer, created)
        owner = campaign.owner_id
        triage = self.sla.policy_for(campaign.pk).triage_minutes(row["inquiry_type"])
        # Marketing answers hand-raisers (a short triage threshold) within minutes, mostly.
        hand_raiser = triage < 24 * 60
        t = created + (
            self._around(HAND_RAISER_TRIAGE_MINUTES, 0.8) if hand_raiser else self._h(0.3, 40)
        )
        if t > now or rng.random() < 0.04:
            return
        triage_due = self.sla.calendar.add_minutes(created, triage)
        self._maybe_breach(lead_id, FlagKind.NEW_UNTRIAGED, owner, triage_due, t)
        r = rng.random()
        if r > qualify_rate:
            if rng.random() < 0.55:
                self._set_stage(row, "nurture")
                self._stage_change(lead_id, "new", "nurture", self.marketer, t)
                later = t + dt.timedelta(days=rng.uniform(5, 90))
                if later > now or rng.random() < 0.6:
                    return
                t = later
                frm = "nurture"
            else:
                self._disqualify(row, "new", t)
                return
        else:
            frm = "new"
        self._set_stage(row, "mql")
        row["mql_at"] = t
        self._stage_change(lead_id, frm, "mql", self.marketer, t)
        mql_at = t
        t = mql_at + (
            self._around(HAND_RAISER_HANDOFF_MINUTES) if hand_raiser else self._h(0.5, 50)
        )
        if t > now or rng.random() < 0.03:
            return
        self._maybe_breach(lead_id, FlagKind.MQL_WAITING, owner, mql_at + 24 * H, t)
        if rng.random() < 0.05:
            self._disqualify(row, "mql", t)
            return
        round_ = 0
        kind = "handoff"
        from_user = self.marketer
        while True:
            round_ += 1
            outcome = self._handoff(row, t, kind, from_user, reject_rate)
            if outcome is None:
                return
            rejected_at, handoff_id = outcome
            # Marketing acts on the rejection, disputes it, or drops the ball.
            if rng.random() < 0.06:
                return
            if rng.random() < 0.1:
                result = self._dispute(row, handoff_id, rejected_at)
                if result is None:
                    return
                t, kind, from_user = result
                if kind == "overturn":
                    continue
            else:
                t = rejected_at + self._h(1, 110)
            if t > now:
                return
            clock = max(rejected_at, row["dispute_ruled_at"] or rejected_at)
            self._maybe_breach(lead_id, FlagKind.REJECTION_UNACTIONED, owner, clock + 72 * H, t)
            r = rng.random()
            if r < 0.25 and round_ < 2:
                kind, from_user = "handoff", self.marketer
                continue
            if r < 0.65:
                self._set_stage(row, "nurture")
                self._stage_change(lead_id, "rejected", "nurture", self.marketer, t)
            else:
                self._disqualify(row, "rejected", t)
            return

    def _disqualify(self, row, frm, at):
        self._set_stage(row, "disqualified")
        row["disqualify_reason"] = self.rng.choice(DISQUALIFY_REASONS)
        self._stage_change(row["id"], frm, "disqualified", self.marketer, at)

    def _dispute(self, row, handoff_id, rejected_at):
        """Returns None (still pending or upheld and waiting), or (t, kind, by) to go on."""
        rng, now = self.rng, self.now
        raised = rejected_at + self._h(1, 30)
        if raised > now:
            return None
        dispute_id = self.ids.take(Dispute)
        ruled = raised + self._h(2, 80)
        if ruled > now:
            row["disputed_at"] = raised
            self.sink.add(
                Dispute,
                (
                    dispute_id,
                    row["id"],
                    handoff_id,
                    self.marketer.pk,
                    "This lead asked for a demo twice; please call.",
                    raised,
                    "",
                    None,
                    None,
                    "",
                ),
            )
            return None
        ruling = DisputeRuling.OVERTURNED if rng.random() < 0.45 else DisputeRuling.UPHELD
        self.sink.add(
            Dispute,
            (
                dispute_id,
                row["id"],
                handoff_id,
                self.marketer.pk,
                "The company fits our profile; please reconsider.",
                raised,
                ruling,
                self.manager.pk,
                ruled,
                "Reviewed the call notes.",
            ),
        )
        row["dispute_ruled_at"] = ruled
        if ruling == DisputeRuling.OVERTURNED:
            return ruled, "overturn", self.manager
        return ruled + self._h(1, 60), "after_upheld", self.marketer

    def _handoff(self, row, t, kind, from_user, reject_rate):
        """Hand the lead to sales at t. Returns (rejected_at, handoff_id) when it comes back
        rejected, else None (the lead stayed with sales or closed)."""
        rng, now, lead_id = self.rng, self.now, row["id"]
        rep_index = rng.randrange(len(self.reps))
        rep = self.reps[rep_index]
        queued = kind == "handoff" and rng.random() < 0.08
        frm = row["stage"]
        self._set_stage(row, "handed_off")
        row["handed_off_at"] = row["handed_off_at"] or t
        row["last_handed_off_at"] = t
        row["owner_id"] = None if queued else rep.pk
        self._stage_change(lead_id, frm, "handed_off", from_user, t)
        handoff_id = self.ids.take(Handoff)
        handoff = [
            handoff_id,
            lead_id,
            "overturn" if kind == "overturn" else "handoff",
            from_user.pk,
            None if queued else rep.pk,
            t,
            None,
            None,
            "",
            "",
            "",
            None,  # rejected_at
            "",  # response_note
            # The SLA contract of the handoff: response and first-contact thresholds.
            *self.sla.policy_for(row["campaign_id"]).handoff_terms().values(),
            None,  # rule_id: the demo's handoffs are by hand or round-robin
            None,  # team_id
            "{}",  # routing
        ]
        style = REP_STYLE[rep_index]
        respond = t + self._around(style.response_minutes)
        if queued:
            claim = t + self._h(0.2, 30)
            if claim > now:
                self.sink.add(Handoff, tuple(handoff))
                return None
            handoff[4] = rep.pk
            handoff[6] = claim
            row["owner_id"] = rep.pk
            row["sales_clock_at"] = claim
            # The queue's lapses close at the claim as breaches on the managers' record.
            for kind, hours in (
                (FlagKind.RESPONSE_OVERDUE, 24),
                (FlagKind.FIRST_CONTACT_OVERDUE, 48),
            ):
                if claim > t + hours * H:
                    due = t + hours * H
                    self._flag(lead_id, kind, None, due, due, claim, breach=True)
            respond = max(respond, claim)
        # A dropped ball: some reps never answer some handoffs.
        if respond > now or rng.random() < 0.03:
            self.sink.add(Handoff, tuple(handoff))
            return None
        clock = max(t, row["sales_clock_at"] or t)  # the rep's clocks start at the claim
        self._maybe_breach(lead_id, FlagKind.RESPONSE_OVERDUE, rep.pk, clock + 24 * H, respond)
        handoff[7] = respond
        rejects = kind != "overturn" and rng.random() < reject_rate * style.reject_factor
        if rejects:
            reason = rng.choice(REJECTION_REASONS)
            handoff[8] = "rejected"
            handoff[9] = reason
            handoff[11] = respond
            self.sink.add(Handoff, tuple(handoff))
            self._set_stage(row, "rejected")
            row.update(
                rejected_at=respond,
                rejection_reason=reason,
                owner_id=None,
                disputed_at=None,
                dispute_ruled_at=None,
            )
            self._stage_change(lead_id, "handed_off", "rejected", rep, respond)
            return respond, handoff_id
        handoff[8] = "accepted"
        self.sink.add(Handoff, tuple(handoff))
        self._set_stage(row, "accepted")
        row["accepted_at"] = respond
        self._stage_change(lead_id, "handed_off", "accepted", rep, respond)
        self._sales_work(row, rep, rep_index, respond, handoff_at=t)
        return None

    def _activity(self, row, rep, style, kind, outcome, at, follow=None, objections=()):
        """Write one activity as the rep logs it: mostly within minutes, sometimes a day or
        more later (logged late by the policy's grace, Activity.is_late)."""
        rng = self.rng
        if rng.random() < style.late_share:
            logged = at + self.grace + dt.timedelta(hours=rng.uniform(1, 96))
        else:
            logged = at + dt.timedelta(minutes=rng.uniform(0, 20))
        activity = _ActivityState()
        activity.id = self.ids.take(Activity)
        activity.kind, activity.outcome, activity.follow = kind, outcome, follow
        activity.occurred_at = at
        activity.logged_at = min(logged, self.now)
        activity.logged_late = Activity.is_late(
            occurred_at=at, logged_at=activity.logged_at, grace=self.grace
        )
        self.sink.add(
            Activity,
            (
                activity.id,
                row["id"],
                rep.pk,
                kind,
                outcome,
                "Spoke about requirements." if kind != "note" else "Internal note.",
                at,
                follow,
                activity.logged_at,  # created_at
                activity.logged_at,
                activity.logged_late,
                None,  # corrects
            ),
        )
        for tag in objections:
            self.sink.add(Objection, (self.ids.take(Objection), activity.id, row["id"], tag))
        return activity

    def _sales_work(self, row, rep, rep_index, accepted_at, handoff_at):
        rng, now, lead_id = self.rng, self.now, row["id"]
        style = REP_STYLE[rep_index]
        if rng.random() < 0.04:
            # Never contacted: lost as unresponsive after a while, or still waiting.
            t = accepted_at + dt.timedelta(days=rng.uniform(10, 40))
            if t <= now and rng.random() < 0.6:
                self._set_stage(row, "lost")
                row.update(closed_at=t, closed_from="accepted", lost_reason="unresponsive")
                self._stage_change(lead_id, "accepted", "lost", rep, t)
            return
        t = accepted_at + self._around(style.contact_minutes)
        if t > now:
            return
        # Unanswered attempts first, hours to days apart; then (unless the lead never
        # answers) the connect and the follow-ups after it, days apart.
        unreachable = rng.random() < UNREACHABLE_SHARE
        if unreachable:
            tries = rng.randint(6, 9) if rng.random() < style.diligence else rng.randint(1, 2)
        else:
            tries = 0
            while tries < 5 and rng.random() > CONNECT_CHANCE:
                tries += 1
        plan = []
        for _ in range(tries):
            kind = rng.choice(("call", "call", "email"))
            plan.append((kind, rng.choice(UNANSWERED[kind])))
        if not unreachable:
            kind = rng.choice(("call", "call", "email", "meeting"))
            plan.append((kind, rng.choice(CONNECTS[kind])))
            for _ in range(rng.randint(0, 4)):
                kind = rng.choice(("call", "email", "meeting", "note"))
                plan.append((kind, "" if kind == "note" else rng.choice(OUTCOMES[kind])))
        moments = [t]
        for i in range(1, len(plan)):
            gap = self._h(2, 72) if i <= tries else dt.timedelta(days=rng.uniform(0.5, 12))
            if moments[-1] + gap > now:
                break
            moments.append(moments[-1] + gap)
        objection_lead = rng.random() < 0.3
        activities = []
        for i, at in enumerate(moments):
            kind, outcome = plan[i]
            is_last = i == len(moments) - 1
            follow = at + dt.timedelta(days=rng.uniform(1, 10)) if is_last else moments[i + 1]
            connected = i >= tries
            tags = (
                (rng.choice(OBJECTIONS),)
                if connected and objection_lead and rng.random() < 0.5
                else ()
            )
            follow = follow if rng.random() < 0.8 else None
            activities.append(self._activity(row, rep, style, kind, outcome, at, follow, tags))
        # The lead's contact summary as activity_log derives it: each activity at its
        # counts_at, in that order (a late-logged call counts when it was logged).
        activities.sort(key=lambda a: (a.counts_at, a.id))
        summary = _ContactSummary()
        summarise_contact(summary, [(a.kind, a.outcome, a.counts_at) for a in activities])
        for name in _ContactSummary.__slots__:
            row[name] = getattr(summary, name)
        row["next_follow_up_at"] = activities[-1].follow  # the newest activity decides
        first = summary.first_contact_at
        if handoff_at is not None:
            self._maybe_breach(
                lead_id,
                FlagKind.FIRST_CONTACT_OVERDUE,
                rep.pk,
                max(row["last_handed_off_at"], row["sales_clock_at"] or handoff_at) + 48 * H,
                first,
            )
        self._set_stage(row, "contacted")
        self._stage_change(lead_id, "accepted", "contacted", rep, first)
        done = max(a.logged_at for a in activities)
        if unreachable:
            # Nobody answered: lost as unresponsive (the market's after enough attempts,
            # sales' dropped ball after one or two), or still being tried.
            t = done + dt.timedelta(days=rng.uniform(1, 10))
            if len(moments) == len(plan) and t <= now and rng.random() < 0.85:
                self._set_stage(row, "lost")
                row.update(closed_at=t, closed_from="contacted", lost_reason="unresponsive")
                row["next_follow_up_at"] = None
                self._stage_change(lead_id, "contacted", "lost", rep, t)
            return
        if len(moments) <= tries:
            return  # not reached yet: still trying
        t = done + dt.timedelta(days=rng.uniform(1, 15))
        if t > now:
            return
        r = rng.random()
        if r < 0.35:
            self._lose(row, rep, "contacted", t)
            return
        if r < 0.47:
            return
        self._set_stage(row, "opportunity")
        row["opportunity_at"] = t
        row["deal_value"] = Decimal(rng.randrange(1000, 90000, 250))
        self._stage_change(lead_id, "contacted", "opportunity", rep, t)
        t = t + dt.timedelta(days=rng.uniform(3, 45))
        # The pipeline: the rep expected it to close when it does (or will), or, for one in
        # five, two weeks after it became an opportunity (which an open one may have let
        # slip: close_date_passed). No extra draw, so a seed's leads stay what they were.
        expected = t if lead_id % 5 else row["opportunity_at"] + dt.timedelta(days=14)
        row["expected_close_on"] = timezone.localtime(expected).date()
        row["probability"] = PIPELINE_PROBABILITY[Stage.OPPORTUNITY]
        if t > now:
            return
        if rng.random() < style.win_rate:
            self._set_stage(row, "won")
            row.update(closed_at=t, closed_from="opportunity")
            row["deal_value"] = (row["deal_value"] * Decimal(rng.uniform(0.7, 1.2))).quantize(
                Decimal("1.00")
            )
            row["next_follow_up_at"] = None
            self._stage_change(lead_id, "opportunity", "won", rep, t)
        elif rng.random() < 0.8:
            self._lose(row, rep, "opportunity", t)

    def _lose(self, row, rep, frm, at):
        self._set_stage(row, "lost")
        row.update(closed_at=at, closed_from=frm, lost_reason=self.rng.choice(LOST_REASONS))
        row["next_follow_up_at"] = None
        self._stage_change(row["id"], frm, "lost", rep, at)


def _month_add(month, n):
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def _joint_sla_targets(now, manager, attempts):
    """Joint SLA targets over the last 12 months, set near what the seeded leads did, so the
    scorecard shows both sides meeting some months and missing others: the three campaigns
    with the most accepted leads and the two busiest channels get 90 % of their median
    month (the busiest campaign 110 % from six months ago: a later target replacing an
    earlier one); the maximum rejection rate and the pass mark sit near the year's
    rejection rate and its share of unresponsive leads lost after ``attempts`` attempts
    (the sales measure the seeded reps do worst on), a little looser in the first half."""
    this_month = timezone.localdate(now).replace(day=1)
    first = _month_add(this_month, -12)
    half = _month_add(first, 6)
    year = Lead.objects.filter(created_at__gte=start_of_day(first))
    rows = (
        year.filter(handed_off_at__isnull=False, accepted_at__isnull=False)
        .annotate(month=TruncMonth("created_at", tzinfo=timezone.get_current_timezone()))
        .values("campaign", "campaign__channel", "month")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_campaign, by_channel = {}, {}
    for row in rows:
        by_campaign.setdefault(row["campaign"], []).append(row["n"])
        channel = by_channel.setdefault(row["campaign__channel"], {})
        channel[row["month"]] = channel.get(row["month"], 0) + row["n"]

    def median(values):
        values = sorted(values)
        return values[len(values) // 2] if values else 0

    ranked = sorted(
        (c for c in by_campaign if c is not None), key=lambda c: (-sum(by_campaign[c]), c)
    )
    busiest = ranked[:3]
    targets = []
    for i, campaign in enumerate(busiest):
        goal = median(by_campaign[campaign])
        targets.append(
            MarketingTarget(month=first, campaign_id=campaign, accepted_leads=int(goal * 0.9))
        )
        if i == 0:
            targets.append(
                MarketingTarget(
                    month=half, campaign_id=campaign, accepted_leads=math.ceil(goal * 1.1)
                )
            )
    channels = sorted(
        (c for c in by_channel if c), key=lambda c: (-sum(by_channel[c].values()), c)
    )
    for channel in channels[:2]:
        goal = median(by_channel[channel].values())
        targets.append(
            MarketingTarget(month=first, channel=channel, accepted_leads=int(goal * 0.9))
        )
    for target in targets:
        target.set_by = manager
    MarketingTarget.objects.bulk_create(targets)

    def percent(n, of):
        return (Decimal(100) * n / max(of, 1)).quantize(Decimal("0.01"))

    handed = year.filter(handed_off_at__isnull=False)
    rejected = percent(handed.filter(rejected_at__isnull=False).count(), handed.count())
    unresponsive = year.filter(stage=Stage.LOST, lost_reason=LostReason.UNRESPONSIVE)
    kept = percent(
        unresponsive.filter(attempts_before_connect__gte=attempts).count(), unresponsive.count()
    )
    JointSLATerms.objects.bulk_create(
        [
            JointSLATerms(
                month=first,
                max_rejection_percent=min(rejected + 2, Decimal(100)),
                pass_percent=max(kept - 4, Decimal(0)),
                set_by=manager,
            ),
            JointSLATerms(
                month=half,
                max_rejection_percent=rejected,
                pass_percent=kept,
                set_by=manager,
            ),
        ]
    )


def reset_demo_data():
    """Remove leads, campaigns and everything hanging off them (not users)."""
    from ..models import (
        AttributionStats,
        CohortStats,
        DeadlineRecompute,
        ImportFile,
        ImportJob,
        ImportRow,
        RepStats,
        StatsState,
        SweepRun,
    )

    # SweepRun and StatsState too: the next sweep and statistics refresh start from scratch.
    tables = [
        m._meta.db_table
        for m in (
            JointSLAMailing,
            JointSLATerms,
            MarketingTarget,
            ImportRow,
            ImportFile,
            ImportJob,
            CohortStats,
            RepStats,
            AttributionStats,
            StatsState,
            Objection,
            Activity,
            Dispute,
            Handoff,
            Flag,
            StageChange,
            Touch,
            Notification,
            DeadlineRecompute,
            SweepRun,
        )
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Rows inserted earlier in this transaction leave deferred FK checks pending,
            # and PostgreSQL refuses to TRUNCATE a table with pending trigger events.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                "TRUNCATE "
                + ", ".join(
                    [*tables, Lead._meta.db_table, "leads_slapolicy", "campaigns_campaign"]
                )
                + " RESTART IDENTITY CASCADE"
            )
            from ..models import SLAPolicy

            SLAPolicy.objects.get_or_create(is_global=True)
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
            cursor.execute(f"DELETE FROM {Lead._meta.db_table}")
            cursor.execute("DELETE FROM leads_slapolicy WHERE campaign_id IS NOT NULL")
            cursor.execute(f"DELETE FROM {SpendEntry._meta.db_table}")
            cursor.execute("DELETE FROM campaigns_campaign")
