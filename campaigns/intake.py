"""Public intake (SPEC §6): ``POST /intake/<campaign key>/`` from a campaign's web form on
another site, or from an integration posting JSON. Anonymous; the campaign's secret key
is the only credential.

A plain HTML form post (urlencoded or multipart, no CSRF token: another site cannot have
ours) is answered with a 303 to ``next`` when ``next`` is on the campaign's allowed site,
otherwise with a small thank-you page; a JSON post is answered with JSON. Every bad input
is a 4xx with a reason. The accepted field names are listed in README.md ("Public
intake"); the lead itself is logged by ``leads.services.lead_intake``, which turns a
known email into a touch on the open lead.
"""

import json
import logging
import time
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit

from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from leadflow import ratelimit
from leadflow.errors import InvalidInput, LeadflowError
from leadflow.http import origin_of
from leadflow.notifications.notify import with_manager_check
from leadflow.webhooks.events import with_endpoint_check
from leads.consent import consent_answer
from leads.models import InquiryType
from leads.names import split_full_name
from leads.services import UTM_FIELDS
from leads.sla.calendar import SLA

from .models import Campaign
from .services import intake_submit

logger = logging.getLogger("leadflow.intake")

HONEYPOT = "website"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
RATE_WINDOW = 60  # seconds; the limits are per minute


class IntakeRefused(Exception):
    def __init__(self, status, detail, errors=None, headers=None):
        super().__init__(detail)
        self.status = status
        self.detail = str(detail)
        self.errors = errors or {}
        self.headers = headers or {}


# --- origins and the redirect ----------------------------------------------------------


def redirect_target(next_url, allowed_origin):
    """``next`` when it is on the campaign's allowed site (same scheme, host and port),
    else None. A path starting with a single "/" is taken relative to that site. Anything
    odd (backslashes, control characters, user info, other schemes) is refused."""
    allowed = origin_of(allowed_origin, bare=False)
    next_url = (next_url or "").strip()
    if not allowed or not next_url:
        return None
    if "\\" in next_url or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in next_url):
        return None
    if next_url.startswith("/") and not next_url.startswith("//"):
        next_url = allowed + next_url
    if origin_of(next_url, bare=False) != allowed:
        return None
    # Django's own open-redirect check as a second opinion.
    netloc = urlsplit(next_url).netloc
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={netloc}, require_https=allowed.startswith("https:")
    ):
        return None
    return next_url


# --- rate limits -----------------------------------------------------------------------


def over_limit(bucket, limit):
    """Count one post in ``bucket`` (a fixed one-minute window in the cache). Returns the
    seconds until the window ends when the limit is passed, else 0. A limit of 0 is off.
    A cache outage lets the post through (logged) rather than failing the form."""
    if not limit:
        return 0
    now = time.time()
    window = int(now // RATE_WINDOW)
    try:
        count = ratelimit.count(f"intake-rl:{bucket}:{window}", RATE_WINDOW + 5)
    except Exception:  # noqa: BLE001 - any cache failure must not take intake down
        logger.exception("intake rate limit: cache unavailable")
        return 0
    if count > limit:
        return max(1, int((window + 1) * RATE_WINDOW - now) + 1)
    return 0


def _check_rate(bucket, limit):
    retry_after = over_limit(bucket, limit)
    if retry_after:
        raise IntakeRefused(
            429,
            _("Too many submissions; try again in a minute."),
            headers={"Retry-After": str(retry_after)},
        )


# --- the body --------------------------------------------------------------------------


class ConsentField(forms.NullBooleanField):
    """The consent answer a post carried: True, False or None (leads.consent). The raw
    value is read as it came (NullBooleanSelect would take a checkbox's "on" for none)."""

    widget = forms.TextInput

    def to_python(self, value):
        return consent_answer(value)


class IntakeForm(forms.Form):
    """The fields a campaign's web form may send (README: "Public intake")."""

    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=100, required=False)
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Full name, when no last_name."),
    )
    email = forms.EmailField(label=gettext_lazy("Email"), max_length=254, required=False)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=40, required=False)
    company = forms.CharField(label=gettext_lazy("Company"), max_length=200, required=False)
    job_title = forms.CharField(label=gettext_lazy("Job title"), max_length=150, required=False)
    country = forms.CharField(label=gettext_lazy("Country"), max_length=100, required=False)
    message = forms.CharField(label=gettext_lazy("Message"), max_length=5000, required=False)
    # A ticked box (or JSON true) gives consent, JSON false (or "0") withdraws it; an
    # unticked box says nothing, so it never takes back an earlier "yes".
    consent = ConsentField(label=gettext_lazy("Consent"), required=False)
    inquiry_type = forms.ChoiceField(
        label=gettext_lazy("Inquiry type"), choices=InquiryType.choices, required=False
    )
    utm_source = forms.CharField(max_length=200, required=False)
    utm_medium = forms.CharField(max_length=200, required=False)
    utm_campaign = forms.CharField(max_length=200, required=False)
    utm_term = forms.CharField(max_length=200, required=False)
    utm_content = forms.CharField(max_length=200, required=False)
    next = forms.CharField(max_length=2000, required=False)
    # The form's language ("en", "nl", "nl-NL"), for the campaign's auto-response; anything
    # else is the site's default.
    language = forms.CharField(max_length=20, required=False)

    def clean(self):
        """Every missing field at once (the service checks them again)."""
        data = super().clean()
        if not data.get("last_name") and data.get("name"):
            first, last = split_full_name(data["name"])
            data["first_name"] = data.get("first_name") or first
            data["last_name"] = last
        if not data.get("last_name") and "last_name" not in self.errors:
            self.add_error("last_name", _("Last name is required."))
        if not data.get("email") and not data.get("phone") and "email" not in self.errors:
            self.add_error("email", _("Give an email address or a phone number."))
        return data


def _content_type(request):
    return (request.content_type or "").lower()


def _is_json(request):
    ctype = _content_type(request)
    return ctype == "application/json" or ctype.endswith("+json")


def read_body(request):
    """The posted fields as a dict of strings (booleans kept for JSON's consent)."""
    if _is_json(request):
        try:
            payload = json.loads(request.body or b"")
        # RecursionError: thousands of nested brackets exhaust the decoder's stack.
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise IntakeRefused(400, _("The body is not valid JSON.")) from None
        if not isinstance(payload, dict):
            raise IntakeRefused(400, _("Send a JSON object of field names and values."))
        data, errors = {}, {}
        known = {*IntakeForm.base_fields, HONEYPOT}
        for key, value in payload.items():
            if value is None or key not in known:
                continue
            if isinstance(value, bool | int | float | str):
                data[key] = value if isinstance(value, bool | str) else str(value)
            else:
                errors[key] = [_("Give a text value.")]
        if errors:
            raise IntakeRefused(400, _("Some fields are not text."), errors)
        return data
    if _content_type(request) in FORM_TYPES:
        try:
            post = _form_fields(request)
        except RequestDataTooBig:
            raise _too_large() from None
        except (SuspiciousOperation, MultiPartParserError) as exc:
            raise IntakeRefused(400, _("The form data could not be read: %s") % exc) from None
        return {key: post.get(key) for key in post}
    raise IntakeRefused(
        415,
        _("Send the form as application/x-www-form-urlencoded, multipart/form-data or JSON."),
    )


def _form_fields(request):
    """The posted form. One posted without a charset from a page that is not UTF-8 (a
    Windows-1252 site, an old CMS) arrives in that page's encoding: it is read as
    Windows-1252 when its bytes are not valid UTF-8, rather than refused (Django accepts
    only UTF-8 for url-encoded forms) or turned into U+FFFD."""
    if "charset=" in (request.META.get("CONTENT_TYPE") or "").lower():
        return request.POST
    urlencoded = _content_type(request) == "application/x-www-form-urlencoded"
    body = request.body
    try:
        (unquote_to_bytes(body.replace(b"+", b" ")) if urlencoded else body).decode("utf-8")
    except UnicodeDecodeError:
        if urlencoded:
            return QueryDict(body, encoding="windows-1252")
        request.encoding = "windows-1252"
    return request.POST


def _too_large():
    return IntakeRefused(413, _("The submission is too large."))


def _max_body():
    return min(settings.INTAKE_MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 10**12)


def referer_utm(request):
    """UTM parameters of the page the form was on (its address is the Referer)."""
    try:
        query = parse_qs(urlsplit(request.META.get("HTTP_REFERER", "")).query)
    except ValueError:
        return {}
    # Control characters (a %00 in someone's link) would be refused by PostgreSQL.
    return {
        name: "".join(ch for ch in query[name][0] if ch.isprintable())[:200]
        for name in UTM_FIELDS
        if query.get(name)
    }


# --- answers ---------------------------------------------------------------------------


def _wants_json(request):
    if _is_json(request):
        return True
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


def _cors(response, request, campaign):
    """Lets a script on the campaign's own site read the answer (and nobody else)."""
    origin = request.headers.get("Origin")
    # Both sides must be a real scheme://host[:port]: "null", "file://" and a campaign
    # without a site are all None to origin_of, and None == None must not let them in.
    allowed = origin_of(campaign.allowed_origin, bare=False) if campaign is not None else None
    if allowed is not None and origin and origin_of(origin) == allowed:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    return response


def _refusal(request, campaign, exc):
    if _wants_json(request):
        body = {"detail": exc.detail}
        if exc.errors:
            body["errors"] = exc.errors
        response = JsonResponse(body, status=exc.status)
    else:
        labels = {name: field.label for name, field in IntakeForm.base_fields.items()}
        errors = [
            (name, labels.get(name) or "", message)
            for name, messages in (exc.errors or {}).items()
            for message in messages
        ]
        response = render(
            request,
            "campaigns/intake_error.html",
            {
                "detail": exc.detail,
                "errors": errors,
                "campaign": campaign,
                "back": _back(request, campaign),
            },
            status=exc.status,
        )
    for name, value in exc.headers.items():
        response[name] = value
    return _cors(response, request, campaign)


def _back(request, campaign):
    """The form's page (the Referer) when it is on the campaign's allowed site, for a
    "back to the form" link; else None."""
    if campaign is None or not campaign.allowed_origin:
        return None
    referer = request.META.get("HTTP_REFERER", "")
    allowed = origin_of(campaign.allowed_origin, bare=False)
    return referer if allowed and origin_of(referer, bare=False) == allowed else None


def _thanks(request, campaign, next_url):
    if _wants_json(request):
        response = JsonResponse(
            {"ok": True, "detail": _("Thank you: we received your request.")}, status=200
        )
    else:
        target = redirect_target(next_url, campaign.allowed_origin)
        if target:
            response = HttpResponseRedirect(target, status=303)
        else:
            if next_url:
                logger.warning(
                    "intake: refused redirect to %r (campaign %s)", next_url, campaign.pk
                )
            back = origin_of(campaign.allowed_origin, bare=False)
            response = render(
                request, "campaigns/intake_thanks.html", {"campaign": campaign, "back": back}
            )
    return _cors(response, request, campaign)


# --- the SLA policies ----------------------------------------------------------------

_sla = {"value": None, "until": 0.0}
SLA_REUSE_SECONDS = 60


def intake_sla():
    """The SLA policies for lead_intake, reused for a minute by this process. A public
    intake only ever creates ``new`` leads, whose deadlines do not depend on the policy, so
    reusing it only saves the two policy queries per post (a fifth of the statements)."""
    now = time.monotonic()
    if _sla["value"] is None or now >= _sla["until"]:
        _sla["value"], _sla["until"] = SLA(), now + SLA_REUSE_SECONDS
    return _sla["value"]


# --- the view --------------------------------------------------------------------------


def intake_campaigns():
    """The campaigns as the intake reads them, in one statement per post: with whether
    any webhook endpoint is active and any manager exists, so a post skips those two
    queries when there is none. Read afresh each post, never cached: a rotated key stops
    working, and a new endpoint or manager is told of the very next lead. Unordered (the
    key is unique: no sort) and without the owner joined (its columns cost more to
    compile on every post than its query when there is one)."""
    return with_manager_check(with_endpoint_check(Campaign.objects.order_by()))


@csrf_exempt  # another site's plain <form> cannot carry our CSRF token; the key is the credential
@require_http_methods(["POST", "OPTIONS"])
def intake(request, key):
    campaign = None
    try:
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not (length.isascii() and length.isdigit()):
            raise IntakeRefused(400, _("The Content-Length header is not valid."))
        if int(length) > _max_body():
            raise _too_large()
        _check_rate(f"ip:{ratelimit.client_ip(request)}", settings.INTAKE_RATE_PER_IP)
        try:
            campaign = intake_campaigns().get(intake_key=key)
        except Campaign.DoesNotExist:
            raise IntakeRefused(404, _("This form is not accepting submissions.")) from None
        if request.method == "OPTIONS":
            return _preflight(request, campaign)
        _check_rate(f"campaign:{campaign.pk}", settings.INTAKE_RATE_PER_KEY)
        data = read_body(request)
        if str(data.get(HONEYPOT) or "").strip():
            # A bot filled the hidden field: look like success, keep nothing.
            logger.info("intake: honeypot filled (campaign %s)", campaign.pk)
            return _thanks(request, campaign, data.get("next") or request.GET.get("next"))
        form = IntakeForm(data)
        if not form.is_valid():
            errors = {
                f: [e["message"] for e in errs] for f, errs in form.errors.get_json_data().items()
            }
            raise IntakeRefused(400, _("Please correct the fields below."), errors)
        return _log_inquiry(request, campaign, form.cleaned_data)
    except IntakeRefused as exc:
        return _refusal(request, campaign, exc)


def _log_inquiry(request, campaign, data):
    utm = referer_utm(request) | {name: data[name] for name in UTM_FIELDS if data.get(name)}
    message = data.get("message") or ""
    try:
        intake_submit(
            data={
                **{k: data.get(k) or "" for k in ("first_name", "last_name", "email", "phone")},
                **{k: data.get(k) or "" for k in ("company", "job_title", "country")},
                "notes": message,
                "consent": data.get("consent"),
            },
            campaign=campaign,
            inquiry_type=data.get("inquiry_type") or InquiryType.WEB_FORM,
            utm=utm,
            message=message,
            language=data.get("language") or "",
            sla=intake_sla(),
        )
    except InvalidInput as exc:
        field = exc.field or "non_field_errors"
        raise IntakeRefused(400, exc.message, {field: [exc.message]}) from None
    except LeadflowError as exc:
        raise IntakeRefused(exc.status, exc.message) from None
    return _thanks(request, campaign, data.get("next") or request.GET.get("next"))


def _preflight(request, campaign):
    response = HttpResponse(status=204)
    if _cors(response, request, campaign).has_header("Access-Control-Allow-Origin"):
        response["Access-Control-Allow-Methods"] = "POST"
        response["Access-Control-Allow-Headers"] = "Content-Type, Accept"
        response["Access-Control-Max-Age"] = "86400"
    return response
