from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import DetailView, ListView

from .models import Lead


class ScopedLeadMixin(LoginRequiredMixin):
    """Every lead is fetched through the user's scope: another rep's lead is a 404."""

    def get_queryset(self):
        return Lead.objects.for_user(self.request.user).select_related("campaign", "owner")


class LeadListView(ScopedLeadMixin, ListView):
    paginate_by = 50


class LeadDetailView(ScopedLeadMixin, DetailView):
    pass
