"""The one way a page or a service checks a role (SPEC §1): ``role_required`` for
function views, ``RoleRequiredMixin`` for class-based ones, ``require_*`` in services.
The rules themselves are the predicates of leadflow/roles.py; a user without the role
gets the 403 page with a sentence saying who may, an anonymous one the login page."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.utils.translation import gettext as _

from . import roles
from .errors import ActionForbidden
from .http import forbidden


def role_required(rule, message):
    """Decorate a view: logged in, and ``rule(user)`` holds, else a 403 with ``message``."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not rule(request.user):
                return forbidden(request, message)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


class RoleRequiredMixin(LoginRequiredMixin):
    """For class-based views: set ``role_rule`` (a predicate of leadflow/roles.py) and
    ``role_message``."""

    role_rule = None
    role_message = ""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not type(self).role_rule(request.user):
            return forbidden(request, self.role_message)
        return super().dispatch(request, *args, **kwargs)


# --- the same rules inside services (a refusal the caller turns into a 403) -------------


def require_marketing(user):
    if not roles.can_market(user):
        raise ActionForbidden(_("Only marketers and managers can do this."))


def require_manager(user):
    if not roles.is_manager(user):
        raise ActionForbidden(_("Only managers can do this."))
