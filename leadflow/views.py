from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from . import roles


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
