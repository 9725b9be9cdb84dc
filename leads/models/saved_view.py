"""A user's saved lead-list views: the list's filters and sort under a name."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from leadflow import roles


def teammate_q(user, prefix=""):
    """The users whose views ``user`` sees when they are shared "with the team":
    - marketers: every marketer (marketing works as one team);
    - salespeople: the members and the team lead of every sales team they are in;
    - managers: the other managers and the members of the teams they lead.
    ``prefix`` is the lookup path to the user (``"owner__"`` from a SavedView)."""
    in_group = Q(**{f"{prefix}groups__name": roles.MARKETING})
    if roles.is_manager(user):
        return Q(**{f"{prefix}groups__name": roles.MANAGERS}) | Q(
            **{f"{prefix}team_memberships__team__lead": user}
        )
    if roles.is_rep(user):
        return Q(**{f"{prefix}team_memberships__team__memberships__user": user}) | Q(
            **{f"{prefix}teams_led__memberships__user": user}
        )
    if roles.is_marketer(user):
        return in_group
    return Q(pk__in=[])


class BuiltInView(models.TextChoices):
    """The views every user (of a role) has (leads.filters.DEFAULT_VIEWS), never stored:
    their names are not free for a saved view, which would show as a second pill."""

    MINE = "mine", _("My open leads")
    QUEUE = "queue", _("Unassigned queue")
    FLAGGED = "flagged", _("Flagged")
    NEW_TODAY = "new_today", _("New today")

    @classmethod
    def named(cls, name):
        """Whether ``name`` is a built-in view's, in any of the site's languages (a shared
        view is read in its teammates' languages too), whatever its case."""
        from django.utils import translation

        folded = name.casefold()
        for code, _language in settings.LANGUAGES:
            with translation.override(code):
                if any(folded == str(label).casefold() for label in cls.labels):
                    return True
        return False


class SavedViewQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Their own views and the views their team shared (teammate_q)."""
        from django.contrib.auth import get_user_model

        teammates = get_user_model().objects.filter(teammate_q(user)).exclude(pk=user.pk)
        return self.filter(Q(owner=user) | Q(shared=True, owner__in=teammates.values("pk")))


class SavedView(models.Model):
    """The lead list's query string (its filters and sort) under a name. The query is
    validated by the list's filter form when saved and again when shown: a filter that no
    longer validates (a deleted campaign) is reported, never a 500."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(_("name"), max_length=80)
    query = models.CharField(_("filters"), max_length=2000, blank=True)
    shared = models.BooleanField(_("shared with my team"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SavedViewQuerySet.as_manager()

    class Meta:
        ordering = [Lower("name"), "id"]
        constraints = [
            models.UniqueConstraint(
                "owner",
                Lower("name"),
                name="saved_view_name_unique_ci",
                violation_error_message=_("You already have a view with this name."),
            ),
        ]

    def __str__(self):
        return self.name
