"""Content-Security-Policy on every response (Django 5.2 has none built in).

The policy allows scripts, styles, fonts and connections from this site only: no inline
``<script>``, no ``on…=`` handlers, no ``style="…"`` attributes, no ``eval``. Templates keep
their behaviour in static/js/ and their looks in static/css/ (tests/security/test_csp.py renders
every page and holds them to it). ``img-src`` admits ``data:`` for Bootstrap's inline SVG
icons (the select arrow, the close button, the navbar toggler). The API docs (Swagger UI
from drf-spectacular-sidecar) need nothing more once templates/drf_spectacular/ moves
their inline <style> to a file. A view that needs another policy sets the header itself.
"""

from django.conf import settings

HEADER = "Content-Security-Policy"


def policy_header(directives):
    return "; ".join(f"{name} {value}".strip() for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    """Adds ``settings.CONTENT_SECURITY_POLICY`` unless the view set its own header."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.header = policy_header(settings.CONTENT_SECURITY_POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = self.header
        return response
