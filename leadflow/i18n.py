"""The interface language of a user (README "Languages").

The switcher in the navbar posts to :func:`leadflow.views.set_language` (Django's
``set_language``: the choice goes into the language cookie, which ``LocaleMiddleware``
reads). A logged-in user's choice is also kept on ``Profile.language``, so that a login on
another browser starts in it and the emails LeadFlow sends them are written in it.
"""

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.utils.formats import number_format
from django.utils.functional import lazy
from django.utils.translation import check_for_language

from .models import Profile

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


def chosen_language(user):
    """The language ``user`` chose (``Profile.language``), or "" when they never did.
    Select ``profile`` with the user to save a query per user."""
    try:
        language = user.profile.language
    except (AttributeError, ObjectDoesNotExist):
        return ""
    return language if language in LANGUAGE_CODES else ""


def user_language(user):
    """The language to write to ``user`` in (emails, notification texts): the one they
    chose, else the site's default."""
    return chosen_language(user) or settings.LANGUAGE_CODE


def lazy_text(message, **params):
    """``message % params`` as lazy text: translated only when it is turned into a string,
    in the language active then (``notify`` writes it in the recipient's language). Whole
    numbers among the params are written that language's way too ("20,000", "20.000")."""

    def render():
        return str(message) % {
            name: number_format(value, force_grouping=True)
            if isinstance(value, int) and not isinstance(value, bool)
            else value
            for name, value in params.items()
        }

    return lazy(render, str)()


def remember_language(user, language):
    """Keep ``language`` as ``user``'s choice; anything not in LANGUAGES is ignored."""
    if language in LANGUAGE_CODES:
        Profile.objects.update_or_create(user=user, defaults={"language": language})


def set_language_cookie(response, language):
    """Set the language cookie the way Django's ``set_language`` view does."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def language_at_login(request, response, user):
    """At login the user's saved language wins: it is activated through the cookie. A user
    who never chose one keeps what they picked before logging in (the cookie), which
    becomes their choice."""
    language = chosen_language(user)
    if language:
        if request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != language:
            set_language_cookie(response, language)
        return language
    cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if cookie in LANGUAGE_CODES and check_for_language(cookie):
        remember_language(user, cookie)
        return cookie
    return ""
