import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from campaigns.models import Campaign, Channel, SpendEntry
from leadflow import roles
from leads.models import Lead

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("pw-Secret-123")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            # get_or_create: transactional tests flush the data-migration groups.
            self.groups.add(Group.objects.get_or_create(name=extracted)[0])


def marketer(**kwargs):
    return UserFactory(role=roles.MARKETING, **kwargs)


def rep(**kwargs):
    return UserFactory(role=roles.SALES, **kwargs)


def manager(**kwargs):
    return UserFactory(role=roles.MANAGERS, **kwargs)


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = Channel.SEARCH_ADS
    start_date = dt.date(2026, 1, 1)
    budget = 10000
    utm_campaign = factory.Sequence(lambda n: f"camp-{n}")

    @factory.post_generation
    def spend(campaign, create, extracted, **kwargs):
        """``spend=X``: one spend entry of X over the campaign's dates (to its end, or to
        the end of 2026 without one), like the migration of the old all-time spend;
        default 5000, ``spend=0`` for none."""
        amount = Decimal(5000 if extracted is None else extracted)
        if create and amount:
            SpendEntry.objects.create(
                campaign=campaign,
                start=campaign.start_date,
                end=campaign.end_date or max(campaign.start_date, dt.date(2026, 12, 31)),
                amount=amount,
            )


class LeadFactory(factory.django.DjangoModelFactory):
    """A bare lead at `new`; use tests.lifecycle helpers to move it through services."""

    class Meta:
        model = Lead

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    company = factory.Faker("company")
    campaign = factory.SubFactory(CampaignFactory)
    last_touch_campaign = factory.SelfAttribute("campaign")
