from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.views.generic import DetailView, ListView

from leadflow import roles

from .models import Campaign


class MarketingRequiredMixin(LoginRequiredMixin, UserPassesTestMixin):
    """Campaigns are marketing's: marketers and managers (SPEC §1)."""

    def test_func(self):
        return roles.can_market(self.request.user)


class CampaignListView(MarketingRequiredMixin, ListView):
    model = Campaign
    paginate_by = 50


class CampaignDetailView(MarketingRequiredMixin, DetailView):
    model = Campaign
