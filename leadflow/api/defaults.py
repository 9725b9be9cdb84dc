"""The classes REST_FRAMEWORK's settings name: token authentication, role permissions and
the JSON parser.
DRF imports them while it defines APIView, so this module must not
import ``rest_framework.views`` (nor anything that does)."""

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, parsers
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from .. import roles
from ..models import ApiToken

# last_used_at is informative; writing it on every request would make every read a write.
LAST_USED_RESOLUTION = dt.timedelta(minutes=5)


# --- authentication --------------------------------------------------------------------


class TokenAuthentication(BaseAuthentication):
    """``Authorization: Token <token>`` with a personal token (stored as its SHA-256)."""

    keyword = "Token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Send the header as: Authorization: Token <token>.")
            )
        try:
            token = parts[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token.")) from None
        api_token = (
            ApiToken.objects.active()
            .select_related("user")
            .filter(digest=ApiToken.digest_of(token))
            .first()
        )
        if api_token is None or not api_token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."))
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        return api_token.user, api_token

    def authenticate_header(self, request):
        # Makes DRF answer 401 (with WWW-Authenticate) rather than 403 to the anonymous.
        return self.keyword


# --- permissions -----------------------------------------------------------------------


class HasRole(BasePermission):
    """Signed in and holding a LeadFlow role (what each role may do is the services' call)."""

    message = gettext_lazy("Your account has no LeadFlow role; ask a manager for one.")

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and roles.has_any_role(user))


class CanMarket(HasRole):
    """Campaigns are marketing's: marketers and managers (SPEC §1)."""

    message = gettext_lazy("Only marketers and managers can do this.")

    def has_permission(self, request, view):
        return super().has_permission(request, view) and roles.can_market(request.user)


class CanWorkSales(HasRole):
    """Sales' court (tasks): salespeople and managers (SPEC §1)."""

    message = gettext_lazy("Only salespeople and managers can do this.")

    def has_permission(self, request, view):
        return super().has_permission(request, view) and roles.can_work_sales(request.user)


# --- parsing ---------------------------------------------------------------------------


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a body nested too deeply for the decoder (thousands of
    brackets: a RecursionError, so a 500) answered as a 400 like any other bad JSON."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(
                _("JSON parse error - the body is nested too deeply.")
            ) from None


class IsManager(HasRole):
    """Managers only: webhooks (SPEC §1)."""

    message = gettext_lazy("Only managers can do this.")

    def has_permission(self, request, view):
        return super().has_permission(request, view) and roles.is_manager(request.user)
