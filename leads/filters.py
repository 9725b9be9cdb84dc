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
from django.db import connection, connections
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.db.models.lookups import Contains
from django.http import QueryDict
from django.utils.http import urlencode
from django.utils.timezone import localdate, localtime
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, Channel
from leadflow import roles
from leadflow.dates import EARLIEST_DAY, LATEST_DAY, DayField, start_of_day, today_bounds
from leadflow.names import person

from .models import (
    SALES_STAGES,
    BuiltInView,
    Flag,
    FlagKind,
    Lead,
    Origin,
    PhoneDigits,
    Stage,
    phone_digits,
)
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
# A query of this many digits or more (spaced as a phone number is) also searches the
# digits of the leads' phone numbers.
PHONE_MIN_DIGITS = 6
PHONE_PUNCTUATION = frozenset("+-()./ ")


def phone_key(text):
    """The digits a phone search looks for, or None when ``text`` is not a phone number:
    "+31 6 3166 7339" -> "31631667339". Leading zeros (an international 00 or a trunk 0)
    are dropped, so "06-31667339" and "0031 6 31667339" find "+31 6 31667339"."""
    if not set(text) <= PHONE_PUNCTUATION | set("0123456789"):
        return None
    digits = phone_digits(text)
    if len(digits) < PHONE_MIN_DIGITS:
        return None
    return digits.lstrip("0") or None


# E.164 country calling codes are prefix-free: those starting with 1 or 7 are one digit,
# these are two, every other one is three ("+358", "+971").
TWO_DIGIT_COUNTRY_CODES = frozenset(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split()
)


def national_key(text):
    """For a number written internationally ("+31 6 1234 5678", "0031 6 ...", as caller ID
    shows it), the key of its national significant number ("612345678"), which a lead
    saved nationally ("06-12345678") holds: its country code dropped, and a "(0)" or
    trunk zero after it ("+31 (0)6 ..." and Italy's "+39 06 ..."). Else None."""
    key = phone_key(text)
    compact = "".join(text.split())
    if key is None or not (compact.startswith("+") or compact.startswith("00")):
        return None
    length = 1 if key[0] in "17" else 2 if key[:2] in TWO_DIGIT_COUNTRY_CODES else 3
    national = key[length:].lstrip("0")
    return national if len(national) >= PHONE_MIN_DIGITS else None


def search_q(text):
    """Every word must appear in one of SEARCH_FIELDS: "Fleur Smit" finds Fleur Smit (first
    and last name), "smit acme" Smit at Acme, and "van der Berg" a last name with spaces
    (a field holding the whole text holds each of its words). Each field has an
    UPPER(col) trigram index on PostgreSQL (leads 0004), so each word is a bitmap OR of
    index scans. A phone number also matches the digits of the lead's phone (phone_key),
    on lead_phone_digits_trgm_idx (leads 0028); one written internationally also matches
    its national digits (national_key)."""

    def anywhere(term):
        return Q(*[Q(**{f"{name}__icontains": term}) for name in SEARCH_FIELDS], _connector=Q.OR)

    text = " ".join(text.split())
    words = text.split(" ")[:SEARCH_MAX_WORDS]
    q = Q(*[anywhere(word) for word in words], _connector=Q.AND)
    key = phone_key(text)
    if key:
        q |= Q(Contains(PhoneDigits("phone"), key))
    national = national_key(text)
    if national:
        # "+31 6 1234 5678" also finds the lead saved as "06-12345678".
        q |= Q(Contains(PhoneDigits("phone"), national))
    return q


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
    most ``cap`` + 1 rows, in the queryset's order_by() when it has one
    (``SELECT COUNT(*) FROM (... LIMIT cap + 1)``; COUNT_CAP unless
    given), so a section of 200,000 leads costs what one of ``cap`` does."""
    cap = COUNT_CAP if cap is None else cap
    parts, params, counts = [], [], {}
    using = None
    for name, qs in querysets.items():
        try:
            # An explicit order is kept: in an index's order, PostgreSQL reads the first
            # cap + 1 entries of that index and stops (unordered, it may bitmap-scan the
            # whole range first).
            counted = qs if qs.query.order_by else qs.order_by()
            sql, sql_params = counted.values("pk")[: cap + 1].query.sql_with_params()
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
    # The rep's Today (sales/views/inbox.py) links its sections through these bounds.
    follow_up_after = forms.DateTimeField(
        label=_("Follow-up due from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    flag_since = forms.DateTimeField(
        label=_("Flag raised since"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    queue_since = forms.DateTimeField(
        label=_("Handed off since"),
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

    def _moment(self, name):
        value = self.cleaned_data[name]
        # Year 1 or 9999 cannot be expressed in UTC: a form error, not a 500 in the query.
        if value is not None and not EARLIEST_DAY <= value.date() <= LATEST_DAY:
            raise forms.ValidationError(_("Enter a date between 1900 and 9998."))
        return value

    def clean_follow_up_before(self):
        return self._moment("follow_up_before")

    def clean_follow_up_after(self):
        return self._moment("follow_up_after")

    def clean_flag_since(self):
        return self._moment("flag_since")

    def clean_queue_since(self):
        return self._moment("queue_since")

    def clean(self):
        data = super().clean()
        # "campaign=19&campaign=3" (or the API's {"campaign": [19, 3]}) would be read as
        # its last value alone: refused, so no one believes both were applied.
        if hasattr(self.data, "getlist"):
            for name, field in self.fields.items():
                repeated = [v for v in self.data.getlist(name) if v != ""]
                if not isinstance(field, forms.MultipleChoiceField) and len(repeated) > 1:
                    self.add_error(name, _("Choose one value, not several."))
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and end < start:
            self.add_error("created_to", _("The end date cannot be before the start date."))
        return data

    def filter(self, qs):
        """Apply the valid filters to ``qs`` (already scoped to the user)."""
        qs, search = self.filter_and_search(qs)
        return qs if search is None else qs.filter(search)

    def filter_and_search(self, qs):
        """(``qs`` with every valid filter but the search, the search's Q or None): the
        list pages a search from its matches (KeysetPage's ``search``)."""
        if not self.is_valid():
            return qs.none(), None
        data = self.cleaned_data
        search = search_q(data["q"]) if data["q"].strip() else None
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
        since = data["flag_since"]
        if data["flag"] == "any" or (since and not data["flag"]):
            open_flags = Flag.objects.open().filter(lead=OuterRef("pk"))
            if since:
                open_flags = open_flags.raised_since(since)
            qs = qs.filter(Exists(open_flags))
        elif data["flag"]:
            # A join (one open flag per lead and kind); ordering() then walks the flags'
            # (kind, lead_created_at, lead) index when the list is sorted by creation.
            raised = {"flags__raised_at__gte": since} if since else {}
            qs = qs.filter(flags__kind=data["flag"], flags__resolved_at__isnull=True, **raised)
        if data["dropped"]:
            # Per rep, as the dashboard's salesperson filter counts it (only their delays).
            own = owner not in ("", "none")
            attempts = global_policy().unreached_attempts
            qs = with_sales_delay(qs).filter(dropped_q(data["dropped"], attempts, own=own))
        if data["section"]:
            qs = section_filter(qs, data["section"], today_bounds()[1])
        if data["follow_up_before"]:
            qs = qs.filter(next_follow_up_at__lt=data["follow_up_before"])
        if data["follow_up_after"]:
            qs = qs.filter(next_follow_up_at__gte=data["follow_up_after"])
        if data["queue_since"]:
            qs = qs.filter(last_handed_off_at__gte=data["queue_since"])
        if data["created_from"]:
            qs = qs.filter(created_at__gte=start_of_day(data["created_from"]))
        if data["created_to"]:
            qs = qs.filter(created_at__lt=start_of_day(data["created_to"] + dt.timedelta(days=1)))
        return qs.order_by(*self.ordering()), search

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

    def error_lines(self):
        """Each field's errors as one line after the field's label (the export's 400, the
        bulk actions' refusal)."""
        return [
            f"{self.fields[name].label}: {' '.join(errors)}"
            if name in self.fields
            else " ".join(errors)
            for name, errors in self.errors.items()
        ]

    # The moment filters (a date means its midnight). Only "Follow-up due before" has a
    # control in the filter bar, a date; the rep's Today links set the others, and times.
    MOMENTS = ("follow_up_before", "follow_up_after", "flag_since", "queue_since")
    BAR_DATE = "follow_up_before"

    def bar_moments(self):
        """What the filter bar shows of the moment filters: (``day``, ``kept``). ``day`` is
        the "YYYY-MM-DD" its date control shows ("" for none): the bound value when it is
        a local midnight. ``kept`` is [(name, label, moment, raw)] of the bound ones no
        control can show (another filter, or a time of day, as Today's "show all" links
        set them): the bar carries them as hidden inputs, so refining the list (a search,
        another filter) keeps them instead of widening the list."""
        if not self.is_valid():
            return "", []
        day, kept = "", []
        for name in self.MOMENTS:
            moment = self.cleaned_data.get(name)
            if moment is None:
                continue
            local = localtime(moment)
            if name == self.BAR_DATE and local.time() == dt.time(0):
                day = local.date().isoformat()
            else:
                kept.append((name, self.fields[name].label, local, self.data.get(name)))
        return day, kept

    def folded_count(self):
        """The filters set besides the search: the list opens its folded filters (on a
        phone) when there are any."""
        if not self.is_valid():
            return 0
        return sum(
            1 for name, value in self.cleaned_data.items() if name not in ("q", "sort") and value
        )

    def active_count(self):
        if not self.is_valid():
            return 0
        return sum(
            1 for name, value in self.cleaned_data.items() if name not in ("sort",) and value
        )


# --- "all matching": the list's filters as a bulk action's selection ------------------
# The set is read when the user confirms, within the user's scope.

# A list query names the filter form's fields (the filters and the sort) and the page
# it shows (the keyset cursor, the saved view it was opened from). The one parser of a
# query taken as input (a bulk selection, a saved view): an unknown name is refused, as a
# misspelt filter must not widen the selection to every lead. The list pages themselves
# show what they can and ignore the rest.
FILTER_NAMES = frozenset(LeadFilterForm.base_fields)
PAGE_NAMES = frozenset({"cursor", "view"})


def list_query(params):
    """(the filters of ``params`` as a QueryDict, in the order given, the unknown names
    sorted). ``params``: a query string, a QueryDict, or a dict of values or lists."""
    if isinstance(params, str):
        query = QueryDict(params)
    elif isinstance(params, QueryDict):
        query = params
    else:
        query = QueryDict(mutable=True)
        for name, value in params.items():
            values = value if isinstance(value, list) else [value]
            query.setlist(name, ["" if v is None else str(v) for v in values])
    filters = QueryDict(mutable=True)
    for name in query:
        if name in FILTER_NAMES:
            filters.setlist(name, query.getlist(name))
    return filters, sorted(set(query) - FILTER_NAMES - PAGE_NAMES)


def filter_form(params, user):
    """The bound LeadFilterForm of the list query ``params`` (see list_query). Raises
    ValueError naming the first unknown parameter."""
    filters, unknown = list_query(params)
    if unknown:
        raise ValueError(_("Unknown filter: %(name)s.") % {"name": unknown[0]})
    return LeadFilterForm(filters, user=user)


def matching_leads(form, user):
    """The leads ``form`` selects in ``user``'s scope (a queryset, read when used)."""
    return form.filter(Lead.objects.for_user(user)).order_by()


def matching_ids(form, user, limit=None):
    """The ids of the first ``limit`` (else all) leads ``form`` selects in ``user``'s
    scope now, in id order."""
    qs = matching_leads(form, user).order_by("pk").values_list("pk", flat=True).distinct()
    return list(qs[:limit] if limit is not None else qs)


def describe(form):
    """The active filters as "Campaign: Winter · Stage: New, MQL" for the confirmation."""
    if not form.is_valid():
        return ""
    parts = []
    for name, value in form.cleaned_data.items():
        if name == "sort" or not value:
            continue
        field = form.fields[name]
        if name == "owner":
            shown = {"me": _("Me"), "none": _("Unassigned")}.get(value) or dict(
                form.owner_choices()
            ).get(value, value)
        elif hasattr(field, "choices") and not hasattr(field, "queryset"):
            labels = dict(field.choices)
            values = value if isinstance(value, list) else [value]
            shown = ", ".join(str(labels.get(v, v)) for v in values)
        else:
            shown = str(value)
        parts.append(f"{field.label}: {shown}")
    return " · ".join(parts)


# --- saved views ----------------------------------------------------------------------
# A view is the list's query string: its filter fields and sort, nothing else (no cursor).


def view_query(params):
    """The part of a list query a view keeps, as a canonical query string: the filters
    (list_query) in the form's order, blank values left out."""
    filters, _unknown = list_query(params)
    kept = QueryDict(mutable=True)
    for name in LeadFilterForm.base_fields:
        values = [v for v in filters.getlist(name) if v != ""]
        if values:
            kept.setlist(name, values)
    return kept.urlencode()


def view_errors(query, user):
    """Why a view's query does not validate: a name the list does not know (refused as
    filter_form refuses it), or the filter form's errors for what the view keeps
    (view_query); [] when it validates."""
    try:
        filter_form(query, user)
    except ValueError as exc:
        return [str(exc)]
    form = filter_form(view_query(query), user)
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
        BuiltInView.MINE.value,
        BuiltInView.MINE.label,
        lambda: {"owner": "me", "stage": [s.value for s in SALES_STAGES]},
        roles.can_work_sales,
    ),
    DefaultView(
        BuiltInView.QUEUE.value,
        BuiltInView.QUEUE.label,
        lambda: {"section": "queue"},
        roles.can_see_leads,
    ),
    DefaultView(
        BuiltInView.FLAGGED.value,
        BuiltInView.FLAGGED.label,
        lambda: {"flag": "any"},
        roles.can_see_leads,
    ),
    DefaultView(
        BuiltInView.NEW_TODAY.value,
        BuiltInView.NEW_TODAY.label,
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
        query = self.cleaned_data["query"]
        errors = view_errors(query, self.user)
        if errors:
            raise forms.ValidationError(
                _("These filters are not valid: %(errors)s"), params={"errors": "; ".join(errors)}
            )
        return view_query(query)


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
    """One page of a keyset-paginated queryset plus the cursors around it.

    ``search``: the search's Q, kept apart from ``qs`` (LeadFilterForm.filter_and_search)
    so that on PostgreSQL the page can start from its matches (search_rows). With
    ``count_cap``, ``total`` is the number of leads matching (at most ``count_cap``, and
    ``total_capped`` says there are more), counted without the cursor."""

    def __init__(self, qs, ordering, cursor, per_page, *, search=None, count_cap=None):
        self.per_page = per_page
        self.ordering = list(ordering)
        decoded = decode_cursor(cursor, self.ordering) if cursor else None
        self.invalid_cursor = bool(cursor) and decoded is None
        direction = decoded[1] if decoded else "next"
        keyset = keyset_q(self.ordering, decoded[0], direction) if decoded else None
        order = reverse_ordering(self.ordering) if direction == "prev" else self.ordering
        if search is not None and connection.vendor == "postgresql":
            rows, total = search_rows(qs, search, keyset, order, per_page + 1, count_cap)
        else:
            matching = qs if search is None else qs.filter(search)
            page_qs = matching if keyset is None else matching.filter(keyset)
            rows = list(page_qs.order_by(*order)[: per_page + 1])
            total = None
            if count_cap is not None:
                total = matching.order_by()[: count_cap + 1].count()
        if direction == "prev":
            more_before = len(rows) > per_page
            rows = rows[:per_page][::-1]
            self.has_previous, self.has_next = more_before, True
        else:
            self.has_next = len(rows) > per_page
            rows = rows[:per_page]
            self.has_previous = decoded is not None
        self.object_list = rows
        self.is_first = not self.has_previous
        if count_cap is not None:
            self.total = min(total, count_cap)
            self.total_capped = total > count_cap

    def next_cursor(self):
        if self.has_next and self.object_list:
            return encode_cursor(self.object_list[-1], self.ordering, "next")
        return None

    def previous_cursor(self):
        if self.has_previous and self.object_list:
            return encode_cursor(self.object_list[0], self.ordering, "prev")
        return None


# --- a search's page, from its matches (PostgreSQL) ----------------------------------------
# Given ORDER BY created_at DESC LIMIT 51 and a search, PostgreSQL walks lead_created_idx
# and tests every row until 51 match: quick when matches are common among the newest
# leads, 0.5 s at a million leads when the newest 100,000 do not match. So the walk is
# bounded to SEARCH_WALK rows of the sort; when these hold less than a page of matches,
# the page comes from the matches themselves (the trigram bitmaps, in a MATERIALIZED
# CTE, planned to completion), sorted, with the capped count from the same statement.
SEARCH_WALK = 3_000
# Past this many matches the search is too common to sort them all: the walk, unbounded.
SEARCH_MATCHES_CAP = 50_000
# Sorted by creation time (the list's default), the page is first sought in a window of
# creation times just past the walk: sized to hold this many pages of matches were they
# spread evenly over the leads' creation times, widened by SEARCH_WINDOW_GROWTH once, then
# all the matches. The trigram bitmaps AND the window's range of lead_created_idx, so only
# the window's matches are read: 100,000 non-matching leads imported in one minute make
# the window no wider, where sorting every match of "jansen" read 28,000 rows.
SEARCH_WINDOW_PAGES = 4
SEARCH_WINDOW_GROWTH = 16
# Up to this many matches, sorting them all is cheaper than a window (which, for a rare
# word, would span most of the leads' creation times).
SEARCH_SORT_ALL = 3_000


def search_rows(qs, search, keyset, order, limit, count_cap):
    """(the first ``limit`` rows of ``qs`` matching ``search`` after ``keyset`` in
    ``order``, the number matching capped at ``count_cap`` + 1, or None without a cap).
    Two statements when the walk finds the page (the rows, the count) and when the
    matches are the ones it found; three when they are others."""
    if qs.query.is_empty():  # .none(): no SQL to wrap
        return [], 0
    page_qs = qs if keyset is None else qs.filter(keyset)
    rows = list(qs.filter(pk__in=_walk(page_qs, search, order, limit)).order_by(*order))
    if len(rows) == limit:
        total = None if count_cap is None else _capped_count(qs.filter(search), count_cap + 1)
        return rows, total
    windowed = _window_rows(qs, page_qs, search, keyset, order, limit, count_cap, rows)
    if windowed is not None:
        return windowed
    ids, total = _match_ids(qs, search, keyset, order, limit)
    if ids is None:  # more than SEARCH_MATCHES_CAP: common enough to walk to, unbounded
        rows = list(page_qs.filter(search).order_by(*order)[:limit])
        if count_cap is not None and count_cap > SEARCH_MATCHES_CAP:
            total = _capped_count(qs.filter(search), count_cap + 1)
    elif set(ids) != {row.pk for row in rows}:
        rows = list(qs.filter(pk__in=ids).order_by(*order))
    return rows, None if count_cap is None else min(total, count_cap + 1)


def _run(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _order_sql(order):
    return ", ".join(
        f"m_{i} {'DESC' if field.startswith('-') else 'ASC'}" for i, field in enumerate(order)
    )


def _walk(page_qs, search, order, limit):
    """The ids of the first ``limit`` matches among the first SEARCH_WALK rows in
    ``order``: all the matches there are when fewer come back, if the walk saw every
    row; else the page is to be taken from the matches."""
    walk = page_qs.order_by(*order).values(
        m_id=F("pk"), m_hit=ExpressionWrapper(search, output_field=BooleanField())
    )[:SEARCH_WALK]
    sql, params = walk.query.sql_with_params()
    return RawSQL(f"SELECT m_id FROM ({sql}) w WHERE m_hit LIMIT {limit}", params)


def _window_rows(qs, page_qs, search, keyset, order, limit, count_cap, walked):
    """(rows, total) as search_rows answers them when sorted by creation time: all the
    matches sorted when there are at most SEARCH_SORT_ALL, else the first page found in a
    window of creation times past the walk (``walked``: the walk's rows, less than a page,
    and the answer when the walk saw every row). None when the sort is another or the
    widened window still holds less than a page (search_rows then sorts all the matches). One
    statement for the capped number of matches (and the page's ids when few, and the span
    of creation times), one per window."""
    field = order[0]
    if field.lstrip("-") != "created_at":
        return None
    newest_first = field.startswith("-")
    cap = (SEARCH_MATCHES_CAP if count_cap is None else count_cap) + 1
    columns = {f"m_{i}": F(name.lstrip("-")) for i, name in enumerate(order)}
    if keyset is not None:
        columns["m_after"] = ExpressionWrapper(keyset, output_field=BooleanField())
    matches = qs.filter(search).order_by().values(m_id=F("pk"), **columns)
    edge = page_qs.order_by(*order).values("created_at")[SEARCH_WALK - 1 : SEARCH_WALK]
    far = qs.model.objects.order_by("created_at" if newest_first else "-created_at")
    sqls, params = [], []
    for part in (matches, edge, far.values("created_at")[:1]):
        sql, part_params = part.query.sql_with_params()
        sqls.append(sql)
        params.extend(part_params)
    after = "WHERE m_after" if keyset is not None else ""
    count, few_ids, edge_at, far_at = _run(
        f"WITH m AS MATERIALIZED ({sqls[0]}) "
        f"SELECT (SELECT count(*) FROM (SELECT 1 FROM m LIMIT {cap}) c), "
        f"CASE WHEN (SELECT count(*) FROM (SELECT 1 FROM m LIMIT {SEARCH_SORT_ALL + 1}) f) "
        f"<= {SEARCH_SORT_ALL} THEN ARRAY(SELECT m_id FROM m {after} "
        f"ORDER BY {_order_sql(order)} LIMIT {limit}) END, ({sqls[1]}), ({sqls[2]})",
        params,
    )
    total = None if count_cap is None else min(count, count_cap + 1)
    if edge_at is None:  # the walk saw every row: ``walked`` holds all its matches
        return walked, total
    if few_ids is not None:
        if set(few_ids) == {row.pk for row in walked}:
            return walked, total
        return list(qs.filter(pk__in=few_ids).order_by(*order)) if few_ids else [], total
    if far_at is None:
        return None
    span = abs(edge_at - far_at) * SEARCH_WINDOW_PAGES * limit / min(count, cap)
    for width in (span, span * SEARCH_WINDOW_GROWTH):
        bound = edge_at - width if newest_first else edge_at + width
        window = {"created_at__gte" if newest_first else "created_at__lte": bound}
        ids = page_qs.filter(search, **window).order_by().values(m_id=F("pk"), **columns)
        sql, ids_params = ids.query.sql_with_params()
        rows = list(
            qs.filter(
                pk__in=RawSQL(
                    f"WITH m AS MATERIALIZED ({sql}) "
                    f"SELECT m_id FROM m ORDER BY {_order_sql(order)} LIMIT {limit}",
                    ids_params,
                )
            ).order_by(*order)
        )
        covered = bound <= far_at if newest_first else bound >= far_at
        if len(rows) == limit or covered:
            return rows, total
    return None


def _match_ids(qs, search, keyset, order, limit):
    """(the ids of the first ``limit`` matches after ``keyset`` in ``order``, the number
    of matches), or (None, the cap + 1) when there are over SEARCH_MATCHES_CAP."""
    columns = {f"m_{i}": F(field.lstrip("-")) for i, field in enumerate(order)}
    if keyset is not None:
        columns["m_after"] = ExpressionWrapper(keyset, output_field=BooleanField())
    matches = qs.filter(search).order_by().values(m_id=F("pk"), **columns)
    sql, params = matches.query.sql_with_params()
    after = "WHERE m_after" if keyset is not None else ""
    count, ids = _run(
        f"WITH m AS MATERIALIZED ({sql}), "
        f"c AS MATERIALIZED (SELECT * FROM m LIMIT {SEARCH_MATCHES_CAP + 1}) "
        f"SELECT (SELECT count(*) FROM c), "
        f"ARRAY(SELECT m_id FROM c {after} ORDER BY {_order_sql(order)} LIMIT {limit})",
        params,
    )
    if count > SEARCH_MATCHES_CAP:
        return None, count
    return ids, count


def _capped_count(matching, cap):
    """COUNT(*) of at most ``cap`` rows, read from the search's bitmaps: a LIMIT on the
    query itself makes PostgreSQL scan the table in the hope of stopping early."""
    sql, params = matching.order_by().values(m_id=F("pk")).query.sql_with_params()
    (count,) = _run(
        f"WITH m AS MATERIALIZED ({sql}) SELECT count(*) FROM (SELECT 1 FROM m LIMIT {cap}) c",
        params,
    )
    return count
