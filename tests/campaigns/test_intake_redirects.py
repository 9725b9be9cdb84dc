"""The intake form redirects only to the campaign's own site: never an open redirect."""

import pytest
from django.core.cache import cache
from django.test import Client

from campaigns.intake import redirect_target
from leadflow.http import origin_of
from leads.models import Lead

SITE = "https://www.example.com"

ATTACKS = [
    "https://evil.example/",
    "http://www.example.com/thanks",  # same host, other scheme
    "https://www.example.com.evil.example/",
    "https://evil.example/https://www.example.com/",
    "//evil.example/thanks",  # scheme-relative
    "///evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https://www.example.com@evil.example/",  # userinfo: the host is evil.example
    "https://user:pass@www.example.com/",  # userinfo on the right host: refused too
    "https://www.example.com%40evil.example/",
    "https://evil.example\\@www.example.com/",
    "https://www.example.com:8443/",  # other port
    "https://www.example.com\t.evil.example/",
    "https://www.example.com\n/",
    "ftp://www.example.com/",
    "https://[::1/",
    "https://www.example.com:99999/",
]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.mark.parametrize("target", ATTACKS)
def test_redirect_target_refuses(target):
    assert redirect_target(target, SITE) is None


@pytest.mark.parametrize(
    "target, expected",
    [
        (f"{SITE}/thanks", f"{SITE}/thanks"),
        (f"{SITE}:443/thanks", f"{SITE}:443/thanks"),
        ("HTTPS://WWW.EXAMPLE.COM/Thanks", "HTTPS://WWW.EXAMPLE.COM/Thanks"),
        ("/thanks?ref=form#top", f"{SITE}/thanks?ref=form#top"),
        (f"  {SITE}/x  ", f"{SITE}/x"),
    ],
)
def test_redirect_target_allows_the_campaigns_site(target, expected):
    assert redirect_target(target, SITE) == expected


def test_no_allowed_site_means_no_redirect():
    assert redirect_target(f"{SITE}/thanks", "") is None
    assert redirect_target("/thanks", "") is None


def test_allowed_site_with_a_path_still_matches_by_origin():
    assert redirect_target(f"{SITE}/b", f"{SITE}/landing/") == f"{SITE}/b"


@pytest.mark.parametrize(
    "url, origin",
    [
        ("https://www.example.com", SITE),
        ("https://WWW.Example.com/", SITE),
        ("https://www.example.com:443", SITE),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://[::1]:8000/", "http://[::1]:8000"),
        ("https://www.example.com/landing", None),
        ("https://u@www.example.com", None),
        ("mailto:x@example.com", None),
        ("", None),
    ],
)
def test_origin_of(url, origin):
    assert origin_of(url) == origin


@pytest.mark.parametrize("target", ATTACKS)
def test_intake_post_with_a_foreign_next_thanks_without_redirecting(campaign, target):
    campaign.allowed_origin = SITE
    campaign.save()
    response = Client().post(
        f"/intake/{campaign.intake_key}/",
        {"last_name": "Doe", "email": "doe@example.com", "next": target},
    )
    # The inquiry is real, so it is kept; the visitor sees our thank-you page.
    assert response.status_code == 200
    assert not response.has_header("Location")
    assert "Thank you" in response.content.decode()
    assert Lead.objects.count() == 1


def test_campaign_without_allowed_site_never_redirects(campaign):
    response = Client().post(
        f"/intake/{campaign.intake_key}/",
        {"last_name": "Doe", "email": "doe@example.com", "next": f"{SITE}/thanks"},
    )
    assert response.status_code == 200 and not response.has_header("Location")
