"""The JSON API's shared parts: the error format, pagination, small view helpers and the
OpenAPI schema class (authentication, permissions and the parser live in api_defaults).
Resources live in each app's ``api.py``; the URLs in ``leadflow/api/urls.py``.

Every error is ``{"detail": "<message>"}``; a 400 also carries
``"errors": {"<field>": ["<message>", ...]}`` (``non_field_errors`` for the body as a
whole). Domain refusals map by ``LeadflowError.status``: 400 bad input, 403 the role may
not, 409 the lead's stage does not allow it (or another user got there first).
"""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions, pagination, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import InvalidInput, LeadflowError

# Re-exported: the API's views import them from here.
from .defaults import (  # noqa: F401
    CanMarket,
    CanWorkSales,
    HasRole,
    IsManager,
    TokenAuthentication,
)

# --- schema: the token scheme ----------------------------------------------------------


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": _(
                'Personal API token, sent as "Token <token>". Create one on your profile '
                "page or with `manage.py create_api_token USERNAME`."
            ),
        }


# --- helpers for views -----------------------------------------------------------------


# The largest amount a DecimalField(max_digits=12, decimal_places=2) column holds.
MAX_MONEY = Decimal("9999999999.99")


class CursorPagination(pagination.CursorPagination):
    ordering = ("-id",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def api_url(request, name, *args):
    """Absolute URL of an API route, in its canonical form with the trailing slash (the
    router accepts both, so ``reverse`` alone would drop it)."""
    path = reverse(name, args=args)
    if not path.endswith("/"):
        path += "/"
    return request.build_absolute_uri(path) if request is not None else path


def choice(choices, **kwargs):
    """A read-only choice field whose empty value ("" for "not set") the schema admits:
    ModelSerializer drops allow_blank from read-only fields."""
    return serializers.ChoiceField(choices=choices, allow_blank=True, read_only=True, **kwargs)


class DateTimeField(serializers.DateTimeField):
    """DRF's DateTimeField for input, with a naive moment at the calendar's start (year 1,
    which the site's time zone puts before year 1 in UTC) a 400 like the other out-of-range
    moments: DRF's own check of it overflowed, a 500."""

    def enforce_timezone(self, value):
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            self.fail("overflow")


def validated(serializer_class, request):
    """The request body validated by ``serializer_class`` (a 400 with field errors if not)."""
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def user_by_id(user_id, field="to_user"):
    """A user picked by id in a request body; the services decide whether they qualify."""
    if user_id is None:
        return None
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        raise exceptions.ValidationError({field: [_("No such user.")]})
    return user


# --- errors ----------------------------------------------------------------------------


def _messages(detail):
    """Flatten DRF's nested error detail (lists, dicts of list items) to a list of strings."""
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _messages(value)]
    if isinstance(detail, list | tuple):
        return [m for value in detail for m in _messages(value)]
    return [str(detail)]


def field_errors(detail):
    if isinstance(detail, dict):
        # Django's model validation names the whole object "__all__".
        return {
            ("non_field_errors" if field == "__all__" else str(field)): _messages(value)
            for field, value in detail.items()
        }
    return {"non_field_errors": _messages(detail)}


def invalid(errors):
    """The 400 body for field errors: ``{"detail": ..., "errors": {field: [...]}}``."""
    if list(errors) == ["non_field_errors"]:
        detail = " ".join(errors["non_field_errors"])
    else:
        detail = _("Invalid input: %(fields)s.") % {"fields": ", ".join(errors)}
    return {"detail": detail, "errors": errors}


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("The request body is too large.")
    default_code = "payload_too_large"


def exception_handler(exc, context):
    if isinstance(exc, LeadflowError):
        data = {"detail": exc.message}
        if isinstance(exc, InvalidInput):
            data["errors"] = {exc.field or "non_field_errors": [exc.message]}
        return Response(data, status=exc.status)
    if isinstance(exc, exceptions.ValidationError):
        return Response(invalid(field_errors(exc.detail)), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        # DRF reads the JSON body through request.body, capped by DATA_UPLOAD_MAX_MEMORY_SIZE.
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is not None and not (
        isinstance(response.data, dict) and "detail" in response.data
    ):
        response.data = {"detail": " ".join(_messages(response.data))}
    return response


def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/ answer JSON too, not the HTML 404 page."""
    return JsonResponse({"detail": _("Not found.")}, status=404)


# --- schema ----------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(
        help_text=gettext_lazy("What went wrong, readable by a person.")
    )
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text=gettext_lazy(
            "400 only: messages per field (non_field_errors for the body as a whole)."
        ),
    )


ERROR_DESCRIPTIONS = {
    "400": gettext_lazy("Invalid input; see errors."),
    "401": gettext_lazy("No credentials, or a bad or revoked token."),
    "403": gettext_lazy("Your role may not do this."),
    "404": gettext_lazy("No such object in your scope (another rep's lead is a 404)."),
    "409": gettext_lazy("The lead's stage does not allow this, or someone else acted first."),
    "413": gettext_lazy("The request body is too large."),
    "415": gettext_lazy("Send the body as application/json."),
}


class LeadflowAutoSchema(AutoSchema):
    """Adds the common error responses to every operation, so clients (and schemathesis)
    know the error body."""

    def _error_codes(self):
        if not self.view.get_permissions():
            return []
        codes = ["400", "401", "403"]
        if "{" in self.path:
            codes.append("404")
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["409", "413", "415"]
        return codes

    def _is_list_view(self, serializer=None):
        # A page envelope ({next, previous, results}) is one object, not a list of them.
        if getattr(serializer, "is_page", False):
            return False
        return super()._is_list_view(serializer)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = str(ERROR_DESCRIPTIONS[code])
                responses[code] = response
        return responses
