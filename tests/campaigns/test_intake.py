"""POST /intake/<campaign key>/: web forms on other sites and JSON integrations create leads
anonymously with the campaign's key (SPEC §6). Every bad input is a 4xx with a reason."""

import json

import pytest
from django.core.cache import cache
from django.test import Client, override_settings

from campaigns.models import new_intake_key
from leads.models import Lead, Touch

SITE = "https://www.example.com"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def site_campaign(campaign):
    campaign.allowed_origin = SITE
    campaign.save()
    return campaign


@pytest.fixture
def anon():
    # No CSRF token, as a form on another site posts.
    return Client(enforce_csrf_checks=True)


def url(campaign):
    return f"/intake/{campaign.intake_key}/"


def post_json(client, campaign, data, **extra):
    return client.post(url(campaign), json.dumps(data), content_type="application/json", **extra)


FORM = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}


# --- the happy paths ----------------------------------------------------------------


def test_form_post_creates_a_lead_and_redirects_303_to_next(anon, site_campaign):
    response = anon.post(url(site_campaign), {**FORM, "next": f"{SITE}/thanks?x=1"})
    assert response.status_code == 303
    assert response["Location"] == f"{SITE}/thanks?x=1"
    lead = Lead.objects.get()
    assert (lead.email, lead.campaign, lead.stage, lead.created_by) == (
        "ada@example.com",
        site_campaign,
        "new",
        None,
    )
    touch = Touch.objects.get(lead=lead)
    assert (touch.source, touch.inquiry_type) == ("intake", "web_form")


def test_site_relative_next_goes_to_the_campaigns_site(anon, site_campaign):
    response = anon.post(url(site_campaign), {**FORM, "next": "/bedankt"})
    assert (response.status_code, response["Location"]) == (303, f"{SITE}/bedankt")


def test_form_post_without_next_shows_a_thank_you_page(anon, site_campaign):
    response = anon.post(url(site_campaign), FORM)
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    assert f'href="{SITE}"' in response.content.decode()
    assert Lead.objects.count() == 1


def test_multipart_form_post_works(anon, site_campaign):
    response = anon.post(url(site_campaign), {**FORM, "next": SITE + "/"}, format="multipart")
    assert response.status_code == 303
    assert Lead.objects.count() == 1


def test_next_in_the_intake_url_query_is_honoured(anon, site_campaign):
    response = anon.post(f"{url(site_campaign)}?next={SITE}/done", FORM)
    assert (response.status_code, response["Location"]) == (303, f"{SITE}/done")


def test_json_post_is_answered_with_json(anon, site_campaign):
    response = post_json(
        anon,
        site_campaign,
        {"name": "Grace Hopper", "email": "grace@example.com", "consent": True, "phone": 31},
    )
    assert response.status_code == 200
    assert response.json()["ok"] is True
    lead = Lead.objects.get()
    assert (lead.first_name, lead.last_name, lead.consent, lead.phone) == (
        "Grace",
        "Hopper",
        True,
        "31",
    )


def test_form_post_asking_for_json_gets_json(anon, site_campaign):
    response = anon.post(url(site_campaign), FORM, HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and response.json()["ok"] is True


def test_message_company_and_inquiry_type_are_kept(anon, site_campaign):
    post_json(
        anon,
        site_campaign,
        {
            **FORM,
            "company": "Analytical Engines",
            "job_title": "Countess",
            "country": "UK",
            "message": "Please call me",
            "inquiry_type": "information_request",
        },
    )
    lead = Lead.objects.get()
    assert (lead.company, lead.job_title, lead.country) == ("Analytical Engines", "Countess", "UK")
    assert lead.inquiry_type == "information_request" and lead.notes == "Please call me"
    assert Touch.objects.get().message == "Please call me"


# --- dedupe and UTM -----------------------------------------------------------------


def test_known_email_becomes_a_touch_and_answers_the_same(anon, site_campaign):
    first = post_json(anon, site_campaign, FORM)
    again = post_json(anon, site_campaign, {**FORM, "email": "ADA@example.com", "phone": "+31"})
    # The answer does not tell an anonymous poster whether the email was known.
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    lead = Lead.objects.get()
    assert Touch.objects.filter(lead=lead).count() == 2
    assert lead.phone == "+31"


def test_utm_fields_from_the_body(anon, site_campaign):
    post_json(anon, site_campaign, {**FORM, "utm_source": "linkedin", "utm_medium": "social"})
    lead = Lead.objects.get()
    assert (lead.utm_source, lead.utm_medium) == ("linkedin", "social")
    assert Touch.objects.get().utm_source == "linkedin"


def test_utm_fields_from_the_posting_pages_address(anon, site_campaign):
    referer = f"{SITE}/landing?utm_source=google&utm_campaign=spring&utm_term=crm&other=1"
    anon.post(url(site_campaign), {**FORM, "utm_campaign": "from-body"}, HTTP_REFERER=referer)
    lead = Lead.objects.get()
    # The body wins over the page's address, field by field.
    assert (lead.utm_source, lead.utm_campaign, lead.utm_term) == ("google", "from-body", "crm")


@pytest.mark.parametrize(
    "body, content_type, expected",
    [
        # A Windows-1252 page's form, no charset: read as Windows-1252.
        (
            b"last_name=M%FCller+%80&email=m%40example.com",
            "application/x-www-form-urlencoded",
            "Müller €",
        ),
        # UTF-8 (what the snippet's accept-charset asks for) stays UTF-8.
        (
            b"last_name=M%C3%BCller&email=m%40example.com",
            "application/x-www-form-urlencoded",
            "Müller",
        ),
        (
            b'--b\r\nContent-Disposition: form-data; name="last_name"\r\n\r\nM\xfcller\r\n'
            b'--b\r\nContent-Disposition: form-data; name="email"\r\n\r\nm@example.com\r\n'
            b"--b--\r\n",
            "multipart/form-data; boundary=b",
            "Müller",
        ),
    ],
)
def test_a_form_posted_without_a_charset_keeps_its_accents(
    anon, site_campaign, body, content_type, expected
):
    response = anon.post(url(site_campaign), body, content_type=content_type)
    assert response.status_code in (200, 303), response.content
    assert Lead.objects.get().last_name == expected


def test_control_characters_in_the_referer_are_dropped(anon, site_campaign):
    anon.post(url(site_campaign), FORM, HTTP_REFERER=f"{SITE}/?utm_source=go%00og%0Ale")
    assert Lead.objects.get().utm_source == "google"


def test_a_broken_referer_is_ignored(anon, site_campaign):
    anon.post(url(site_campaign), FORM, HTTP_REFERER="http://[bad/?utm_source=x")
    assert Lead.objects.get().utm_source == ""


# --- the honeypot -------------------------------------------------------------------


def test_honeypot_pretends_success_and_creates_nothing(anon, site_campaign):
    response = anon.post(url(site_campaign), {**FORM, "website": "http://spam", "next": SITE})
    assert response.status_code == 303 and response["Location"] == SITE
    response = post_json(anon, site_campaign, {**FORM, "website": "spam"})
    assert response.status_code == 200 and response.json()["ok"] is True
    assert not Lead.objects.exists() and not Touch.objects.exists()


def test_empty_honeypot_is_fine(anon, site_campaign):
    anon.post(url(site_campaign), {**FORM, "website": ""})
    assert Lead.objects.count() == 1


# --- keys ---------------------------------------------------------------------------


def test_wrong_key_is_404(anon, site_campaign):
    response = anon.post("/intake/not-a-key/", FORM)
    assert response.status_code == 404
    assert "not accepting" in response.content.decode()
    response = post_json(anon, site_campaign, FORM) and anon.post(
        "/intake/not-a-key/", json.dumps(FORM), content_type="application/json"
    )
    assert response.status_code == 404 and response.json()["detail"]
    assert Lead.objects.count() == 1  # only the one through the right key


def test_rotated_key_is_404_and_the_new_one_works(anon, site_campaign):
    old = url(site_campaign)
    site_campaign.intake_key = new_intake_key()
    site_campaign.save()
    assert anon.post(old, FORM).status_code == 404
    assert anon.post(url(site_campaign), FORM).status_code == 200
    assert Lead.objects.count() == 1


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, field",
    [
        ({"email": "ada@example.com"}, "last_name"),
        ({"last_name": "Lovelace"}, "email"),
        ({**FORM, "email": "not an email"}, "email"),
        ({**FORM, "last_name": "x" * 101}, "last_name"),
        ({**FORM, "message": "x" * 5001}, "message"),
        ({**FORM, "inquiry_type": "carrier_pigeon"}, "inquiry_type"),
        ({**FORM, "company": "nul\x00byte"}, "company"),
        ({**FORM, "utm_source": "u" * 201}, "utm_source"),
    ],
)
def test_bad_fields_are_400_with_a_reason(anon, site_campaign, data, field):
    as_json = post_json(anon, site_campaign, data)
    assert as_json.status_code == 400
    assert field in as_json.json()["errors"]
    as_form = anon.post(url(site_campaign), data)
    assert as_form.status_code == 400
    assert field in as_form.content.decode()
    assert not Lead.objects.exists()


def test_the_form_error_page_lists_every_problem_by_label_with_a_way_back(anon, site_campaign):
    response = anon.post(
        url(site_campaign), {"email": "bad"}, HTTP_REFERER=f"{SITE}/contact?utm_source=x"
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "<strong>Last name</strong>: Last name is required." in body
    assert "<strong>Email</strong>: Enter a valid email address." in body
    assert f'<a href="{SITE}/contact?utm_source=x">Go back to the form</a>' in body
    # A page elsewhere gets no link.
    elsewhere = anon.post(url(site_campaign), {"email": "bad"}, HTTP_REFERER="https://evil.test/")
    assert "evil.test" not in elsewhere.content.decode()
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    "name, first, last",
    [
        ("Grace Hopper", "Grace", "Hopper"),
        ("Jan van der Berg", "Jan", "van der Berg"),
        ("Anna Maria de Vries", "Anna Maria", "de Vries"),
        ("Kees van 't Hek", "Kees", "van 't Hek"),
        ("Ada Augusta King", "Ada Augusta", "King"),
        ("Cher", "", "Cher"),
    ],
)
def test_a_full_name_keeps_surname_particles_with_the_last_name(
    anon, site_campaign, name, first, last
):
    post_json(anon, site_campaign, {"name": name, "email": "n@example.com"})
    lead = Lead.objects.get()
    assert (lead.first_name, lead.last_name) == (first, last)


@pytest.mark.parametrize(
    "body",
    ["{not json", "[1, 2]", '"just a string"', "null", "\xff\xfe"],
)
def test_malformed_json_is_400(anon, site_campaign, body):
    response = anon.post(url(site_campaign), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_non_text_json_values_are_400(anon, site_campaign):
    response = post_json(anon, site_campaign, {**FORM, "company": {"name": "x"}})
    assert response.status_code == 400
    assert "company" in response.json()["errors"]


def test_unknown_fields_are_ignored(anon, site_campaign):
    response = post_json(anon, site_campaign, {**FORM, "interest": ["a", "b"], "size": 10})
    assert response.status_code == 200


def test_other_content_types_are_415(anon, site_campaign):
    response = anon.post(url(site_campaign), "hello", content_type="text/plain")
    assert response.status_code == 415


def test_get_is_405(anon, site_campaign):
    assert anon.get(url(site_campaign)).status_code == 405


def test_oversized_body_is_413(anon, site_campaign):
    big = {**FORM, "message": "x" * 40_000}
    response = post_json(anon, site_campaign, big)
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert anon.post(url(site_campaign), big).status_code == 413
    assert not Lead.objects.exists()


@override_settings(INTAKE_MAX_BODY_BYTES=10**9, DATA_UPLOAD_MAX_MEMORY_SIZE=4096)
def test_djangos_own_body_cap_is_a_413_too(anon, site_campaign):
    response = post_json(anon, site_campaign, {**FORM, "message": "x" * 5000})
    assert response.status_code == 413


def test_too_many_fields_is_400(anon, site_campaign):
    body = "&".join(f"f{i}=1" for i in range(1100))
    response = anon.post(
        url(site_campaign), body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert not Lead.objects.exists()


def test_bad_content_length_is_400(anon, site_campaign):
    for length in ("x", "\u00b2"):
        response = anon.post(
            url(site_campaign),
            json.dumps(FORM),
            content_type="application/json",
            CONTENT_LENGTH=length,
        )
        assert response.status_code == 400


def test_broken_multipart_is_400(anon, site_campaign):
    response = anon.post(
        url(site_campaign),
        b"--nope\r\nthis is not multipart",
        content_type="multipart/form-data; boundary=",
    )
    assert response.status_code == 400


# --- rate limits --------------------------------------------------------------------


@override_settings(INTAKE_RATE_PER_IP=3, INTAKE_RATE_PER_KEY=100)
def test_rate_limit_per_ip_is_429_with_retry_after(anon, site_campaign):
    for i in range(3):
        assert post_json(anon, site_campaign, {**FORM, "email": f"a{i}@x.org"}).status_code == 200
    response = post_json(anon, site_campaign, {**FORM, "email": "a9@x.org"})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 61
    assert Lead.objects.count() == 3
    # Another address still gets through.
    other = post_json(anon, site_campaign, {**FORM, "email": "b@x.org"}, REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 200


@override_settings(INTAKE_RATE_PER_IP=3)
def test_wrong_keys_count_against_the_ip_too(anon, site_campaign):
    for _ in range(3):
        anon.post("/intake/guess/", FORM)
    assert post_json(anon, site_campaign, FORM).status_code == 429


@override_settings(INTAKE_RATE_PER_IP=100, INTAKE_RATE_PER_KEY=2)
def test_rate_limit_per_key(anon, site_campaign):
    for i in range(2):
        post_json(anon, site_campaign, FORM, REMOTE_ADDR=f"10.0.0.{i}")
    response = anon.post(url(site_campaign), FORM, REMOTE_ADDR="10.0.0.50")
    assert response.status_code == 429
    assert response.has_header("Retry-After")
    assert "Too many" in response.content.decode()


@override_settings(INTAKE_RATE_PER_IP=2, NUM_PROXIES=1)
def test_behind_a_proxy_the_forwarded_address_is_limited(anon, site_campaign):
    for _ in range(2):
        post_json(anon, site_campaign, FORM, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert (
        post_json(anon, site_campaign, FORM, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    )
    assert (
        post_json(anon, site_campaign, FORM, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 200
    )


@override_settings(INTAKE_RATE_PER_IP=0, INTAKE_RATE_PER_KEY=0)
def test_zero_switches_the_limits_off(anon, site_campaign):
    for _ in range(30):
        assert post_json(anon, site_campaign, FORM).status_code == 200


def test_a_cache_outage_does_not_take_intake_down(anon, site_campaign, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "add", broken)
    assert post_json(anon, site_campaign, FORM).status_code == 200


def test_after_a_cache_failure_the_next_posts_do_not_wait_for_the_cache(
    anon, site_campaign, monkeypatch
):
    """A hung Redis costs one request its timeout, not every request."""
    calls = []

    def hung(*args, **kwargs):
        calls.append(args)
        raise TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(cache, "add", hung)
    for n in range(3):
        data = {**FORM, "email": f"hung{n}@example.com"}
        assert post_json(anon, site_campaign, data).status_code == 200
    assert len(calls) == 1  # the first post's per-address check; the rest skipped the cache


# --- CORS for scripts on the campaign's own site --------------------------------------


def test_cors_answers_only_the_campaigns_site(anon, site_campaign):
    preflight = anon.options(
        url(site_campaign),
        HTTP_ORIGIN=SITE,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == SITE
    assert "Content-Type" in preflight["Access-Control-Allow-Headers"]
    response = post_json(anon, site_campaign, FORM, HTTP_ORIGIN=SITE)
    assert response["Access-Control-Allow-Origin"] == SITE
    other = post_json(anon, site_campaign, FORM, HTTP_ORIGIN="https://evil.example")
    assert not other.has_header("Access-Control-Allow-Origin")
    preflight = anon.options(url(site_campaign), HTTP_ORIGIN="https://evil.example")
    assert not preflight.has_header("Access-Control-Allow-Origin")


@pytest.mark.parametrize("origin", ["null", "foo", "file://", "https://www.example.com"])
def test_cors_needs_a_configured_site(anon, campaign, origin):
    # The default campaign has no allowed site: no origin, not even "null", may read.
    assert not campaign.allowed_origin
    preflight = anon.options(
        url(campaign), HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert not preflight.has_header("Access-Control-Allow-Origin")
    response = post_json(anon, campaign, FORM, HTTP_ORIGIN=origin)
    assert not response.has_header("Access-Control-Allow-Origin")


@pytest.mark.parametrize("origin", ["null", "foo", "file://", f"{SITE}/path", f"{SITE}.evil"])
def test_cors_refuses_origins_that_are_not_the_site(anon, site_campaign, origin):
    preflight = anon.options(url(site_campaign), HTTP_ORIGIN=origin)
    assert not preflight.has_header("Access-Control-Allow-Origin")


def test_deeply_nested_json_is_400(anon, site_campaign):
    body = "[" * 5000 + "]" * 5000
    response = anon.post(url(site_campaign), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"]
