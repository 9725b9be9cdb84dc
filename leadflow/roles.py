"""Roles are Django groups (SPEC §1); these helpers are the one place that reads them.

A superuser counts as a manager. A user may hold several roles; each check is
independent, so a marketer who is also in Sales may do both sides' work.
"""

MARKETING = "Marketing"
SALES = "Sales"
MANAGERS = "Managers"
ALL_ROLES = (MARKETING, SALES, MANAGERS)
# The role names of the API and of invitations, and the group each one is.
ROLE_GROUPS = {"marketing": MARKETING, "sales": SALES, "manager": MANAGERS}


def role_names(user):
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_leadflow_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
        user._leadflow_roles = cached
    return cached


def is_manager(user):
    return bool(getattr(user, "is_superuser", False) and user.is_active) or (
        MANAGERS in role_names(user)
    )


def is_marketer(user):
    return MARKETING in role_names(user)


def is_rep(user):
    return SALES in role_names(user)


def can_market(user):
    """Marketing-court actions: campaigns, qualification, handoff (marketers and managers)."""
    return is_marketer(user) or is_manager(user)


def can_log_leads(user):
    """Log and import leads, export the list: marketers, salespeople and managers."""
    return can_market(user) or is_rep(user)


def can_see_leads(user):
    """The lead list and its export: marketers and managers see all, a rep theirs and the
    queue (``Lead.objects.for_user``)."""
    return can_market(user) or is_rep(user)


def can_read_reports(user):
    """The dashboard and its numbers: marketing, sales and managers (SPEC §1)."""
    return can_market(user) or is_rep(user)


def can_work_sales(user):
    """Sales-court pages (the inbox, sales actions): salespeople and managers."""
    return is_rep(user) or is_manager(user)


def has_any_role(user):
    return bool(role_names(user)) or is_manager(user)


def primary_role(user):
    if is_manager(user):
        return MANAGERS
    if is_marketer(user):
        return MARKETING
    if is_rep(user):
        return SALES
    return None


def active_reps():
    """Every active salesperson: whom leads can be handed, assigned or reassigned to."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(is_active=True, groups__name=SALES).distinct()


def role_key(user):
    """The user's main role as the API names it ("manager", "marketing", "sales"), or None."""
    group = primary_role(user)
    return next((key for key, name in ROLE_GROUPS.items() if name == group), None)


def active_managers():
    """Every active user with a manager's rights (superusers included)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__name=MANAGERS) | Q(is_superuser=True))
        .distinct()
    )
