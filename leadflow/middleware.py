"""Request guards that run before any view reads the body, the answer when the database
is out of reach, and the cache policy for personal data."""

import logging
import sqlite3

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from .http import API_PATH, answers_json

logger = logging.getLogger("leadflow.db")

# Seconds a client is asked to wait before trying again while the database is unreachable.
RETRY_AFTER_SECONDS = 30
# SQLite raises OperationalError for bad SQL and missing tables too; only these mean the
# database itself is unavailable (busy past the timeout, or its file unreadable).
SQLITE_OUTAGES = (
    "database is locked",
    "database table is locked",
    "unable to open database file",
    "disk I/O error",
)


def database_unavailable(exc):
    """Whether ``exc`` means the database cannot be reached or used right now (refused or
    dropped connection, a server shutting down, a lock or statement timeout): worth
    retrying, so a 503. Faults of the code stay 500s: bad SQL is a ProgrammingError, a
    broken constraint an IntegrityError."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if isinstance(cause, sqlite3.Error):
        return str(cause).startswith(SQLITE_OUTAGES)
    return True


def unavailable_response(request):
    """The 503 for a database outage: JSON on the API and the intake, else a small page
    rendered without a request context (no user, no navbar: nothing that needs the
    database)."""
    message = _("LeadFlow cannot reach its database right now; try again in a minute.")
    if answers_json(request):
        response = JsonResponse({"detail": message}, status=503)
    else:
        response = HttpResponse(
            loader.render_to_string("503.html", {"message": message}), status=503
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """Answers a database outage with a 503 and ``Retry-After`` instead of a 500 page.

    ``process_exception`` covers the view, including the session and user it reads lazily
    (``request.user`` is loaded on first use). Django turns an exception raised inside a
    middleware into the 500 handler's answer before the middleware around it sees it, so
    a failure while a middleware reads or writes the session is answered by
    ``leadflow.views.server_error``, which asks :func:`database_unavailable` as well."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not database_unavailable(exception):
            return None
        logger.error(
            "database unavailable: %s %s", request.method, request.path, exc_info=exception
        )
        return unavailable_response(request)


class RequestSizeLimitMiddleware:
    """Refuses a body larger than ``MAX_REQUEST_BODY_BYTES`` with a 413 before anything
    reads it. DATA_UPLOAD_MAX_MEMORY_SIZE leaves uploaded files out, so without this a
    multipart post of any size would be read by the first view that touches
    ``request.POST``; uploads are held in memory (FILE_UPLOAD_HANDLERS), so this cap is
    what bounds them. The public intake has its own, smaller cap (campaigns/intake.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = request.META.get("CONTENT_LENGTH") or ""
        limit = settings.MAX_REQUEST_BODY_BYTES
        # A malformed length reads as an empty body in Django; the intake answers it itself.
        if length.isascii() and length.isdigit() and int(length) > limit:
            return self._refuse(
                request,
                413,
                _("The upload is too large: at most %(size)s per request; split the file.")
                % {"size": filesizeformat(limit)},
            )
        return self.get_response(request)

    def _refuse(self, request, status, message):
        if answers_json(request):
            return JsonResponse({"detail": message}, status=status)
        return render(request, "413.html", {"message": message, "status": status}, status=status)


class PrivateCacheControlMiddleware:
    """``Cache-Control: private, no-store`` on every answer to a signed-in user and on
    every API answer, unless the view chose its own: lead pages, API bodies and CSV
    exports hold personal data that no shared proxy nor the browser's disk may keep.
    The API authenticates by token inside the view, after this middleware has looked at
    the user, so its paths are covered whoever asks. Static files (WhiteNoise, earlier
    in the chain) and /health/ (its own header) are untouched."""

    VALUE = "private, no-store"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.has_header("Cache-Control") and self._personal(request):
            response["Cache-Control"] = self.VALUE
        return response

    @staticmethod
    def _personal(request):
        if request.path_info.startswith(API_PATH):
            return True
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_authenticated)
