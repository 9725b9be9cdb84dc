from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from leads.lifecycle import LeadflowError

from . import roles, services
from .models import ApiToken


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
        label=_lazy("Name"),
        max_length=100,
        required=False,
        help_text=_lazy("What the token is for, e.g. “ad platform sync”."),
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


@login_required
def profile(request):
    """The user's profile: their personal API tokens. A new token is shown once, in the
    answer to the POST that created it; only its digest is stored."""
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
        {"form": form, "tokens": tokens, "new_token": new_token},
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
