"""The lead list's filters, search and sort: one form shared by the list page, the CSV
export, the API and the dashboard's drill-down links, so they always select the same leads.

Bad parameters never raise: the form reports them and the list shows no leads for an
invalid filter rather than silently ignoring it.
"""

import base64
import datetime as dt
import json
from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Exists, OuterRef, Q
from django.http import QueryDict
from django.utils.http import urlencode
from django.utils.timezone import localdate
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, Channel
from leadflow import roles
from leadflow.dates import EARLIEST_DAY, LATEST_DAY, DayField, start_of_day, today_bounds
from leadflow.names import person

from .models import SALES_STAGES, Flag, FlagKind, Origin, Stage
from .reporting.definitions import DROPPED_CATEGORIES, dropped_q, with_sales_delay
from .sla.calendar import global_policy

User = get_user_model()

# sort key -> ordering; every ordering ends in "id" so keyset cursors are total.
SORTS = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "name": ("last_name", "id"),
    "-name": ("-last_name", "-id"),
    "company": ("company", "id"),
    "-company": ("-company", "-id"),
    "stage": ("stage", "-created_at", "-id"),
}
SORT_LABELS = {
    "-created": _("Newest first"),
    "created": _("Oldest first"),
    "name": _("Last name A–Z"),
    "-name": _("Last name Z–A"),
    "company": _("Company A–Z"),
    "-company": _("Company Z–A"),
    "stage": _("Stage"),
}
SEARCH_FIELDS = ("last_name", "first_name", "email", "company")
SEARCH_MAX_WORDS = 5


def search_q(text):
    """Every word must appear in one of SEARCH_FIELDS: "Fleur Smit" finds Fleur Smit (first
    and last name), "smit acme" Smit at Acme. The whole text also matches as one phrase, for
    a company or last name with a space ("van der Berg"). Each field has an UPPER(col)
    trigram index on PostgreSQL (leads 0004), so each word is a bitmap OR of index scans."""

    def anywhere(term):
        return Q(*[Q(**{f"{name}__icontains": term}) for name in SEARCH_FIELDS], _connector=Q.OR)

    text = " ".join(text.split())
    words = text.split(" ")[:SEARCH_MAX_WORDS]
    if len(words) == 1:
        return anywhere(text)
    return anywhere(text) | Q(*[anywhere(word) for word in words], _connector=Q.AND)


MAX_ID = 2**63

# Counting every match of a filter over a million leads is the slow part of a list;
# beyond this many a list or an inbox section says "10,000+".
COUNT_CAP = 10_000


class CappedCount(int):
    """A count that stopped at COUNT_CAP: ``capped`` when there are more."""

    capped = False

    def __new__(cls, value, cap):
        count = super().__new__(cls, min(value, cap))
        count.capped = value > cap
        return count


def capped_counts(querysets, cap=None):
    """{name: CappedCount} of each queryset, all counted in one query: each count reads at
    most ``cap`` + 1 rows (``SELECT COUNT(*) FROM (... LIMIT cap + 1)``; COUNT_CAP unless
    given), so a section of 200,000 leads costs what one of ``cap`` does."""
    cap = COUNT_CAP if cap is None else cap
    parts, params, counts = [], [], {}
    using = None
    for name, qs in querysets.items():
        try:
            sql, sql_params = qs.order_by().values("pk")[: cap + 1].query.sql_with_params()
        except EmptyResultSet:
            counts[name] = CappedCount(0, cap)
            continue
        using = qs.db
        parts.append((name, f"(SELECT COUNT(*) FROM ({sql}) capped)"))
        params.extend(sql_params)
    if parts:
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(part for _name, part in parts), params)
            row = cursor.fetchone()
        counts.update(
            (name, CappedCount(value, cap))
            for (name, _part), value in zip(parts, row, strict=True)
        )
    return {name: counts[name] for name in querysets}


# The rep inbox's sections as a list filter (LeadQuerySet.awaiting_response etc.): the
# inbox's "show all" links; "due" and "in progress" are split at the end of today.
SECTIONS = {
    "awaiting": _("Awaiting response"),
    "follow_up_due": _("Follow-up due today or overdue"),
    "in_progress": _("In progress, nothing due today"),
    "queue": _("Unassigned sales queue"),
}


def section_filter(qs, name, end_of_today):
    if name == "awaiting":
        return qs.awaiting_response()
    if name == "follow_up_due":
        return qs.follow_ups_due(end_of_today)
    if name == "in_progress":
        return qs.in_progress(end_of_today)
    return qs.unassigned_queue()


class LeadFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    stage = forms.MultipleChoiceField(label=_("Stage"), choices=Stage.choices, required=False)
    campaign = forms.ModelChoiceField(
        label=_("Campaign"),
        queryset=Campaign.objects.none(),
        required=False,
        empty_label=_("Any campaign"),
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", _("Any channel")), *Channel.choices], required=False
    )
    owner = forms.CharField(label=_("Owner"), required=False, max_length=20)
    origin = forms.ChoiceField(
        label=_("Origin"), choices=[("", _("Any origin")), *Origin.choices], required=False
    )
    flag = forms.ChoiceField(
        label=_("Open flag"),
        choices=[("", _("No flag filter")), ("any", _("Any open flag")), *FlagKind.choices],
        required=False,
    )
    dropped = forms.ChoiceField(
        label=_("Ball dropped by"),
        choices=[("", _("Anyone")), *DROPPED_CATEGORIES.items()],
        required=False,
    )
    section = forms.ChoiceField(
        label=_("Inbox section"),
        choices=[("", _("Any section")), *SECTIONS.items()],
        required=False,
    )
    # A moment, or a date for its midnight: "2026-03-12" is due before the 12th.
    follow_up_before = forms.DateTimeField(
        label=_("Follow-up due before"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    created_from = DayField(label=_("Created from"))
    created_to = DayField(label=_("Created to"))
    sort = forms.ChoiceField(
        label=_("Sort"), choices=list(SORT_LABELS.items()), required=False, initial="-created"
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["campaign"].queryset = Campaign.objects.order_by("name")
        for name, field in self.fields.items():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", f"{css} {css}-sm")
            field.widget.attrs.setdefault("id", f"id_{name}")

    def owner_choices(self):
        """("", any), ("none", unassigned), (id, name) for every rep; for the template."""
        reps = roles.active_reps().order_by("username")
        return [
            ("none", _("Unassigned")),
            *((str(u.pk), person(u)) for u in reps),
        ]

    def clean_owner(self):
        value = self.cleaned_data["owner"].strip()
        # An id beyond a bigint would overflow the database driver, not just match nothing.
        if value in ("", "none", "me") or (
            value.isascii() and value.isdigit() and int(value) < MAX_ID
        ):
            return value
        raise forms.ValidationError(_("Choose a salesperson."))

    def clean_follow_up_before(self):
        value = self.cleaned_data["follow_up_before"]
        # Year 1 or 9999 cannot be expressed in UTC: a form error, not a 500 in the query.
        if value is not None and not EARLIEST_DAY <= value.date() <= LATEST_DAY:
            raise forms.ValidationError(_("Enter a date between 1900 and 9998."))
        return value

    def clean(self):
        data = super().clean()
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and end < start:
            self.add_error("created_to", _("The end date cannot be before the start date."))
        return data

    def filter(self, qs):
        """Apply the valid filters to ``qs`` (already scoped to the user)."""
        if not self.is_valid():
            return qs.none()
        data = self.cleaned_data
        if data["q"]:
            qs = qs.filter(search_q(data["q"]))
        if data["stage"]:
            qs = qs.filter(stage__in=data["stage"])
        if data["campaign"]:
            qs = qs.filter(campaign=data["campaign"])
        if data["channel"]:
            qs = qs.filter(campaign__channel=data["channel"])
        owner = data["owner"]
        if owner == "none":
            qs = qs.filter(owner__isnull=True)
        elif owner == "me":
            qs = qs.filter(owner=self.user)
        elif owner:
            qs = qs.filter(owner_id=int(owner))
        if data["origin"]:
            qs = qs.filter(origin=data["origin"])
        if data["flag"] == "any":
            open_flags = Flag.objects.filter(lead=OuterRef("pk"), resolved_at__isnull=True)
            qs = qs.filter(Exists(open_flags))
        elif data["flag"]:
            # A join (one open flag per lead and kind); ordering() then walks the flags'
            # (kind, lead_created_at, lead) index when the list is sorted by creation.
            qs = qs.filter(flags__kind=data["flag"], flags__resolved_at__isnull=True)
        if data["dropped"]:
            # Per rep, as the dashboard's salesperson filter counts it (only their delays).
            own = owner not in ("", "none")
            attempts = global_policy().unreached_attempts
            qs = with_sales_delay(qs).filter(dropped_q(data["dropped"], attempts, own=own))
        if data["section"]:
            qs = section_filter(qs, data["section"], today_bounds()[1])
        if data["follow_up_before"]:
            qs = qs.filter(next_follow_up_at__lt=data["follow_up_before"])
        if data["created_from"]:
            qs = qs.filter(created_at__gte=start_of_day(data["created_from"]))
        if data["created_to"]:
            qs = qs.filter(created_at__lt=start_of_day(data["created_to"] + dt.timedelta(days=1)))
        return qs.order_by(*self.ordering())

    def sort_key(self):
        return (self.cleaned_data.get("sort") if self.is_bound and self.is_valid() else "") or (
            "-created"
        )

    def ordering(self):
        ordering = SORTS[self.sort_key()]
        flag = self.cleaned_data.get("flag") if self.is_bound and self.is_valid() else ""
        if flag and flag != "any" and ordering in (SORTS["-created"], SORTS["created"]):
            # Same order, read from the joined flag's copy of the lead's creation time:
            # the flagged leads of a kind can be old ones (stalled, unconverted), and
            # walking every newer lead to find them was slow at a million leads.
            return tuple(
                f.replace("created_at", "flags__lead_created_at").replace("id", "flags__lead_id")
                for f in ordering
            )
        return ordering

    def active_count(self):
        if not self.is_valid():
            return 0
        return sum(
            1 for name, value in self.cleaned_data.items() if name not in ("sort",) and value
        )


# --- saved views ----------------------------------------------------------------------
# A view is the list's query string: its filter fields and sort, nothing else (no cursor).


def view_query(params):
    """The part of a list query (a QueryDict) a view keeps, as a canonical query string."""
    kept = QueryDict(mutable=True)
    for name in LeadFilterForm.base_fields:
        values = [v for v in params.getlist(name) if v != ""]
        if values:
            kept.setlist(name, values)
    return kept.urlencode()


def view_errors(query, user):
    """The filter form's errors for a stored view's query ([] when it still validates)."""
    form = LeadFilterForm(QueryDict(query), user=user)
    if form.is_valid():
        return []
    return [
        f"{form.fields[name].label}: {error}" if name in form.fields else str(error)
        for name, errors in form.errors.items()
        for error in errors
    ]


class DefaultView:
    """A view every user (of a role) has, defined here once and never stored."""

    def __init__(self, key, name, params, applies):
        self.key, self.name, self._params, self.applies = key, name, params, applies
        self.shared, self.is_default = False, True

    @property
    def query(self):
        return urlencode(self._params(), doseq=True)


DEFAULT_VIEWS = (
    DefaultView(
        "mine",
        _("My open leads"),
        lambda: {"owner": "me", "stage": [s.value for s in SALES_STAGES]},
        roles.can_work_sales,
    ),
    DefaultView("queue", _("Unassigned queue"), lambda: {"section": "queue"}, roles.can_see_leads),
    DefaultView("flagged", _("Flagged"), lambda: {"flag": "any"}, roles.can_see_leads),
    DefaultView(
        "new_today",
        _("New today"),
        lambda: {"created_from": localdate().isoformat(), "created_to": localdate().isoformat()},
        roles.can_market,
    ),
)


def default_views(user):
    return [view for view in DEFAULT_VIEWS if view.applies(user)]


class SavedViewForm(forms.Form):
    """Save the list's current filters under a name; the query must pass the filter form."""

    name = forms.CharField(label=_("Name"), max_length=80)
    shared = forms.BooleanField(label=_("Share with my team"), required=False)
    query = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_query(self):
        query = view_query(QueryDict(self.cleaned_data["query"]))
        errors = view_errors(query, self.user)
        if errors:
            raise forms.ValidationError(
                _("These filters are not valid: %(errors)s"), params={"errors": "; ".join(errors)}
            )
        return query


# --- keyset pagination -------------------------------------------------------------
# OFFSET on a deep page makes PostgreSQL walk every skipped row; a cursor holding the
# last row's sort values lets every page start with an index seek instead.


def _encode_value(value):
    if isinstance(value, dt.datetime):
        return {"t": value.isoformat()}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    return value


def _decode_value(value):
    if isinstance(value, dict):
        if "t" in value:
            parsed = dt.datetime.fromisoformat(value["t"])
            if parsed.tzinfo is None:
                raise ValueError("naive time in cursor")
            return parsed
        if "d" in value:
            return Decimal(value["d"])
    return value


def encode_cursor(obj, ordering, direction):
    names = [f.lstrip("-") for f in ordering]
    values = [_encode_value(getattr(obj, CURSOR_ATTRS.get(n, n))) for n in names]
    raw = json.dumps({"v": values, "d": direction}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


CURSOR_TYPES = {
    "created_at": dt.datetime,
    "id": int,
    "flags__lead_created_at": dt.datetime,
    "flags__lead_id": int,
}
# Sort columns read from a joined row, and the lead attribute holding the same value.
CURSOR_ATTRS = {"flags__lead_created_at": "created_at", "flags__lead_id": "id"}


def decode_cursor(token, ordering):
    """(values, direction) or None for a malformed cursor."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        values = [_decode_value(v) for v in data["v"]]
        direction = data["d"]
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError):
        return None
    if len(values) != len(ordering) or direction not in ("next", "prev"):
        return None
    # Each value must have its sort column's type, or the database would refuse the query.
    for field, value in zip(ordering, values, strict=True):
        expected = CURSOR_TYPES.get(field.lstrip("-"), str)
        if not isinstance(value, expected) or isinstance(value, bool):
            return None
        if expected is int and not -(2**63) <= value < 2**63:
            return None
    return values, direction


def keyset_q(ordering, values, direction):
    """The Q selecting rows strictly after (``next``) or before (``prev``) the cursor row.

    (a, b) > (x, y) is written as ``a >= x AND (a > x OR (a = x AND b > y))``: the leading
    range on the first sort column lets PostgreSQL seek into its index instead of filtering
    every row before the cursor."""
    clauses = []
    lead = None
    for i, field in enumerate(ordering):
        name = field.lstrip("-")
        descending = field.startswith("-")
        forward = descending if direction == "prev" else not descending
        equal = {ordering[j].lstrip("-"): values[j] for j in range(i)}
        clauses.append(Q(**equal, **{f"{name}__{'gt' if forward else 'lt'}": values[i]}))
        if i == 0:
            lead = Q(**{f"{name}__{'gte' if forward else 'lte'}": values[i]})
    return lead & Q(*clauses, _connector=Q.OR)


def reverse_ordering(ordering):
    return [f[1:] if f.startswith("-") else f"-{f}" for f in ordering]


class KeysetPage:
    """One page of a keyset-paginated queryset plus the cursors around it."""

    def __init__(self, qs, ordering, cursor, per_page):
        self.per_page = per_page
        self.ordering = list(ordering)
        decoded = decode_cursor(cursor, self.ordering) if cursor else None
        self.invalid_cursor = bool(cursor) and decoded is None
        direction = decoded[1] if decoded else "next"
        if decoded:
            qs = qs.filter(keyset_q(self.ordering, decoded[0], direction))
        if direction == "prev":
            rows = list(qs.order_by(*reverse_ordering(self.ordering))[: per_page + 1])
            more_before = len(rows) > per_page
            rows = rows[:per_page][::-1]
            self.has_previous, self.has_next = more_before, True
        else:
            rows = list(qs.order_by(*self.ordering)[: per_page + 1])
            self.has_next = len(rows) > per_page
            rows = rows[:per_page]
            self.has_previous = decoded is not None
        self.object_list = rows
        self.is_first = not self.has_previous

    def next_cursor(self):
        if self.has_next and self.object_list:
            return encode_cursor(self.object_list[-1], self.ordering, "next")
        return None

    def previous_cursor(self):
        if self.has_previous and self.object_list:
            return encode_cursor(self.object_list[0], self.ordering, "prev")
        return None
