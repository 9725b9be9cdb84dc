"""CSV export of leads (SPEC §6): the list's filters and the user's scope, streamed in
id-ordered chunks so a million rows never sit in memory."""

from collections import defaultdict

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from leadflow import roles
from leadflow.csv_safe import SafeWriter
from leadflow.http import forbidden

from .csv_format import COLUMNS
from .filters import LeadFilterForm
from .forms import BulkForm
from .models import COURT_FIELDS, Flag, Lead, court_minutes

# Database values read per row, in COLUMNS order (open_flags comes from a second query).
FIELDS = [
    "id",
    "first_name",
    "last_name",
    "email",
    "company",
    "campaign__name",
    "campaign__channel",
    "inquiry_type",
    "origin",
    "stage",
    "owner__username",
    "created_at",
    "mql_at",
    "handed_off_at",
    "last_handed_off_at",
    "accepted_at",
    "rejected_at",
    "rejection_reason",
    "first_contact_at",
    "opportunity_at",
    "closed_at",
    "deal_value",
    "lost_reason",
]
# ... then those of the plain columns after open_flags ...
FIELDS_AFTER_FLAGS = [
    "first_connect_at",
]
# ... then what the court-time columns are computed from (with the current stretch).
COURT_READ = ["stage", "court_since", *COURT_FIELDS.values()]
READ = [*FIELDS, *FIELDS_AFTER_FLAGS, *COURT_READ]
CHUNK = 2000


class _Echo:
    def write(self, value):
        return value


def _cell(value, tz):
    if value is None:
        return ""
    if hasattr(value, "astimezone"):
        return value.astimezone(tz).isoformat()
    return value


def export_rows(qs, chunk=CHUNK):
    """Yield the header then one list per lead, in id order, ``chunk`` leads per query."""
    tz = timezone.get_current_timezone()
    now = timezone.now()
    width = len(FIELDS)
    court_at = width + len(FIELDS_AFTER_FLAGS)
    yield COLUMNS
    last_id = 0
    base = qs.order_by("id")
    while True:
        rows = list(base.filter(id__gt=last_id).values_list(*READ)[:chunk])
        if not rows:
            return
        ids = [row[0] for row in rows]
        flags = defaultdict(list)
        for lead_id, kind in (
            Flag.objects.open()
            .filter(lead_id__in=ids)
            .order_by("kind")
            .values_list("lead_id", "kind")
        ):
            flags[lead_id].append(kind)
        for row in rows:
            stage, since, *counters = row[court_at:]
            stored = dict(zip(COURT_FIELDS.values(), counters, strict=True))
            court = court_minutes(stored, stage, since, now)
            yield [
                *(_cell(v, tz) for v in row[:width]),
                ";".join(flags.get(row[0], [])),
                *(_cell(v, tz) for v in row[width:court_at]),
                court["marketing"],
                court["sales"],
            ]
        last_id = ids[-1]


def selected_ids(values):
    """The lead ids of ``id`` parameters, or None when one is not an id or there are more
    than the list's bulk form lets a user tick (BulkForm.MAX)."""
    try:
        ids = {int(value) for value in values}
    except ValueError:
        return None
    if len(ids) > BulkForm.MAX or any(not 0 < i < 2**63 for i in ids):
        return None
    return ids


@login_required
def export_csv(request):
    user = request.user
    if not roles.can_see_leads(user):
        return forbidden(request, _("You cannot export leads."))
    form = LeadFilterForm(request.GET, user=user)
    if not form.is_valid():
        return HttpResponse(
            _("The filters are not valid:") + "\n" + "\n".join(form.error_lines()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    qs = form.filter(Lead.objects.for_user(user))
    if "id" in request.GET:
        # The leads ticked on the list (its bulk "Export CSV"), within the filters and scope.
        ids = selected_ids(request.GET.getlist("id"))
        if ids is None:
            return HttpResponse(
                _("The selection is not valid."),
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        qs = qs.filter(pk__in=ids)
    writer = SafeWriter(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in export_rows(qs)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
    return response
