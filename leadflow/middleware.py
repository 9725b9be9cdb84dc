"""Request guards that run before any view reads the body."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _


class RequestSizeLimitMiddleware:
    """Refuses a body larger than ``MAX_REQUEST_BODY_BYTES`` with a 413 before anything
    reads it. DATA_UPLOAD_MAX_MEMORY_SIZE leaves uploaded files out, so without this a
    multipart post of any size would be spooled to disk by the first view that touches
    ``request.POST``. The public intake has its own, smaller cap (campaigns/intake.py)."""

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
        if request.path.startswith(("/api/", "/intake/")):
            return JsonResponse({"detail": message}, status=status)
        return render(request, "413.html", {"message": message, "status": status}, status=status)
