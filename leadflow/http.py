"""Small view helpers shared by every app."""

from urllib.parse import urlsplit

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from leadflow.errors import ActionForbidden, LeadflowError

DEFAULT_PORTS = {"http": 80, "https": 443}
# The JSON API's prefix (leadflow/urls.py).
API_PATH = "/api/"
# Programs read these: every error under them is JSON ``{"detail": ...}``, never a page.
JSON_PATHS = (API_PATH, "/intake/")


def answers_json(request):
    """Whether an error on this request is answered as JSON: the API and the public
    intake (the 413, 500 and 503 answers alike), not the HTML pages."""
    return request.path_info.startswith(JSON_PATHS)


def origin_of(url, *, bare=True):
    """``scheme://host[:port]`` of an http(s) URL, lower-cased with the default port
    dropped; None when it is not one. With ``bare``, a path, query or fragment (other than
    "/") also makes it None: what a campaign's allowed site must look like."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return None
    if bare and (parts.path not in ("", "/") or parts.query or parts.fragment):
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def safe_next(request, default):
    """The POSTed/GET `next` when it is a path on this site, else ``default`` (no open
    redirect). Only a path ("/…") is taken: ``redirect()`` would try any other word as a
    URL name, and a page never sends one."""
    target = request.POST.get("next") or request.GET.get("next")
    if (
        target
        and target.startswith("/")
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return default


def forbidden(request, message):
    return render(request, "403.html", {"message": message}, status=403)


def run_action(request, action, *, success, back):
    """Run a service call for a page: a refusal becomes a message (or a 403 page for a
    role that may not act at all); success adds ``success`` and goes ``back``."""
    try:
        result = action()
    except ActionForbidden as exc:
        return forbidden(request, exc.message)
    except LeadflowError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    if success:
        messages.success(request, success)
    return result if hasattr(result, "status_code") else redirect(back)


# A bulk action lists this many refusals one by one, then counts the rest.
REFUSALS_LISTED = 20


def report_refused(request, refused, missing):
    """A bulk action's refusals as messages: each ``(lead_id, reason)`` of the first
    REFUSALS_LISTED, a count of the rest, and how many selected leads were not found."""
    for lead_id, message in refused[:REFUSALS_LISTED]:
        messages.error(request, _("Lead #%(id)s: %(msg)s") % {"id": lead_id, "msg": message})
    if len(refused) > REFUSALS_LISTED:
        more = len(refused) - REFUSALS_LISTED
        messages.error(
            request,
            ngettext("…and %(n)s more refused.", "…and %(n)s more refused.", more) % {"n": more},
        )
    if missing:
        messages.error(
            request,
            ngettext(
                "%(n)s selected lead was not found.",
                "%(n)s selected leads were not found.",
                missing,
            )
            % {"n": missing},
        )
