import hashlib
import logging
import sys

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import defaults
from django.views import i18n as i18n_views
from django.views.decorators.http import require_http_methods, require_POST

from leadflow.errors import InvalidInput, LeadflowError

from . import i18n, ratelimit, roles, services, throttle
from .http import answers_json
from .jobs import enqueue
from .middleware import database_unavailable, unavailable_response
from .models import EMAILED_KINDS, ApiToken, NotificationKind, NotificationSetting
from .webhooks.views import channels_form

logger = logging.getLogger(__name__)


def server_error(request):
    """handler500: what an unhandled exception is answered with (Django calls it while the
    exception is being handled). A database outage is a 503 with Retry-After, also when a
    middleware hit it; the API and the intake answer JSON; pages get templates/500.html."""
    if database_unavailable(sys.exc_info()[1]):
        return unavailable_response(request)
    if answers_json(request):
        return JsonResponse(
            {"detail": _("The error has been logged. Please try again in a moment.")},
            status=500,
        )
    return defaults.server_error(request)


class LoginView(auth_views.LoginView):
    """Django's login with throttling (leadflow/throttle.py: locked out, it answers 429 and
    says when to try again), which then switches to the language the user chose earlier."""

    form_class = throttle.LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        return throttle.too_many_attempts(super().form_invalid(form), form)

    def form_valid(self, form):
        response = super().form_valid(form)
        i18n.language_at_login(self.request, response, form.get_user())
        return response


@require_POST
def set_language(request):
    """The language switcher: Django's ``set_language`` (sets the language cookie and
    goes back to ``next``); a logged-in user's choice is kept on their profile too."""
    response = i18n_views.set_language(request)
    if request.user.is_authenticated and settings.LANGUAGE_COOKIE_NAME in response.cookies:
        i18n.remember_language(request.user, response.cookies[settings.LANGUAGE_COOKIE_NAME].value)
    return response


@login_required
def home(request):
    """Send each role to its workspace."""
    user = request.user
    if roles.is_manager(user):
        return redirect("sales:team")
    if roles.is_marketer(user):
        return redirect("campaigns:list")
    if roles.is_rep(user):
        return redirect("sales:inbox")
    return render(request, "no_role.html", status=403)


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("What the token is for, e.g. “ad platform sync”."),
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


class NotificationSettingsForm(forms.Form):
    """Two switches per kind of notification, in the app and by e-mail (the latter only
    for the kinds LeadFlow e-mails)."""

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        saved = {s.kind: s for s in NotificationSetting.objects.filter(user=user)}
        self.rows = []
        for kind in NotificationKind:
            setting = saved.get(kind.value)
            app_name, email_name = f"{kind.value}_in_app", f"{kind.value}_email"
            self.fields[app_name] = forms.BooleanField(
                label=gettext_lazy("%(kind)s in the app") % {"kind": kind.label},
                required=False,
                initial=setting.in_app if setting else True,
            )
            if kind in EMAILED_KINDS:
                self.fields[email_name] = forms.BooleanField(
                    label=gettext_lazy("%(kind)s by e-mail") % {"kind": kind.label},
                    required=False,
                    initial=setting.email if setting else True,
                )
            self.rows.append(
                (kind.label, self[app_name], self[email_name] if kind in EMAILED_KINDS else None)
            )

    def choices(self):
        data = self.cleaned_data
        return {
            kind.value: (data[f"{kind.value}_in_app"], data.get(f"{kind.value}_email", True))
            for kind in NotificationKind
        }


@login_required
@require_POST
def notification_settings(request):
    """Save the profile's notification switches (the form is on the profile page)."""
    form = NotificationSettingsForm(request.POST, user=request.user)
    if form.is_valid():
        services.notification_settings_save(user=request.user, choices=form.choices())
        messages.success(request, _("Your notification settings are saved."))
    return redirect(reverse("profile") + "#notifications-heading")


@login_required
def profile(request):
    """The user's profile: their notification switches and personal API tokens. A new
    token is shown once, in the answer to the POST that created it; only its digest is
    stored."""
    new_token = None
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _row, new_token = services.api_token_create(
                user=request.user, name=form.cleaned_data["name"]
            )
        except LeadflowError as exc:
            form.add_error(None, exc.message)
        else:
            form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    response = render(
        request,
        "accounts/profile.html",
        {
            "form": form,
            "tokens": tokens,
            "new_token": new_token,
            "channels_form": channels_form(request.user, action=reverse("profile_channels")),
            "settings_form": NotificationSettingsForm(user=request.user),
        },
    )
    if new_token:
        # The page holds a secret: keep it out of caches and the back-forward history.
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    try:
        services.api_token_revoke(token=token, by=request.user)
    except LeadflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Token %(prefix)s… revoked.") % {"prefix": token.prefix})
    return redirect("profile")


# --- invitations ---------------------------------------------------------------------


class InvitationAcceptForm(forms.Form):
    """The invitee's username, name and password; the service checks them (taken
    usernames, Django's password validators) and the view puts its refusal on the field."""

    username = forms.CharField(
        label=gettext_lazy("Username"),
        max_length=150,
        help_text=gettext_lazy("Letters, digits and @ . + - _ only. You log in with it."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "class": "form-control"}),
    )
    first_name = forms.CharField(
        label=gettext_lazy("First name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "given-name", "class": "form-control"}),
    )
    last_name = forms.CharField(
        label=gettext_lazy("Last name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "family-name", "class": "form-control"}),
    )
    password = forms.CharField(
        label=gettext_lazy("Password"),
        strip=False,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "new-password", "class": "form-control"}
        ),
    )
    password_again = forms.CharField(
        label=gettext_lazy("Password again"),
        strip=False,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "new-password", "class": "form-control"}
        ),
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("The two passwords differ."))
        return data


@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    """The invitation link: the invitee chooses a username and password, and is logged in
    with the role the manager gave them. A used, withdrawn, expired or forged link says so."""
    try:
        invitation = services.invitation_check(token)
    except LeadflowError as exc:
        return render(request, "registration/invitation_invalid.html", {"message": exc.message})
    form = InvitationAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.invitation_accept(
                token=token,
                username=data["username"],
                password=data["password"],
                first_name=data["first_name"],
                last_name=data["last_name"],
            )
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except LeadflowError as exc:
            return render(
                request, "registration/invitation_invalid.html", {"message": exc.message}
            )
        else:
            auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, _("Welcome to LeadFlow, %(name)s.") % {"name": user.get_username()}
            )
            return redirect("home")
    response = render(
        request, "registration/invitation_accept.html", {"form": form, "invitation": invitation}
    )
    # The address holds the invitation's secret: keep the page out of caches.
    response["Cache-Control"] = "no-store"
    return response


# --- password reset and change ---------------------------------------------------------


def _reset_bucket(kind, value):
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"pwreset:{kind}:{digest}"


def reset_throttled(request, email):
    """Count one reset request from this client address and for this e-mail address;
    True when either is over its hourly limit (PASSWORD_RESET_RATE_PER_IP, _PER_EMAIL).
    The answer is the same whether the address has an account, so it reveals none. A
    broken cache lets the request through (logged): the page must keep working."""
    limits = [
        (_reset_bucket("ip", ratelimit.client_ip(request)), settings.PASSWORD_RESET_RATE_PER_IP),
        (_reset_bucket("email", email.strip().casefold()), settings.PASSWORD_RESET_RATE_PER_EMAIL),
    ]
    over = False
    for bucket, limit in limits:
        if not limit:
            continue
        try:
            over |= ratelimit.count(bucket, 3600) > limit
        except Exception:  # noqa: BLE001 - the cache is a guard, not a dependency
            logger.exception("password reset throttle: cache unavailable")
    return over


class PasswordResetForm(auth_forms.PasswordResetForm):
    def save(self, **kwargs):
        """Queue the reset e-mail of each active user with this address through the outbox;
        the worker makes the link (leadflow.notifications.emails.send_password_reset)."""
        for user in self.get_users(self.cleaned_data["email"]):
            enqueue("leadflow.tasks.send_password_reset_email", user.pk)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request page, throttled per client address and per e-mail address
    (429 with Retry-After beyond the limits), its e-mail sent through the outbox."""

    form_class = PasswordResetForm

    def form_valid(self, form):
        if reset_throttled(self.request, form.cleaned_data["email"]):
            form.add_error(
                None, _("Too many reset requests. Try again in an hour, or ask a manager.")
            )
            response = self.form_invalid(form)
            response.status_code = 429
            response["Retry-After"] = "3600"
            return response
        return super().form_valid(form)


class ThrottledPasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's password change, whose wrong old passwords count as failed logins
    (leadflow/throttle.py): a session left open is no way around the login's lock-out."""

    def __init__(self, *args, request=None, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_old_password(self):
        username = self.user.get_username()
        seconds = throttle.locked_for(self.request, username)
        if seconds:
            raise forms.ValidationError(
                throttle.lockout_message(seconds), code=throttle.LOCKED_OUT
            )
        try:
            return super().clean_old_password()
        except forms.ValidationError:
            throttle.record_failure(self.request, username)
            raise


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}
