"""Which addresses a webhook or chat channel may point at (server-side request forgery).

A manager types the URL, so it could name the metadata service (169.254.169.254), the
database on localhost or a router on the office network. Every address the host resolves
to must be public: not loopback, link-local, private, shared, multicast, reserved or
unspecified. The check runs when a URL is saved and again at each send, because DNS can
change in between; the send then connects to the address the check approved, so a
second lookup cannot swap it (DNS rebinding). Hosts in WEBHOOK_ALLOWED_HOSTS skip the
address check (a receiver on the same network, the tests' receiver on loopback).
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

SCHEMES = {"http": 80, "https": 443}


class UnsafeTarget(ValueError):
    """The URL may not be sent to; the message says why, for the form or the delivery log."""


class Unresolvable(UnsafeTarget):
    """The host name did not resolve: refused when saving, but at send time a passing DNS
    failure is worth a retry."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query string
    address: str  # the vetted address to connect to


def is_public(address):
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return ip.is_global and not (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def allowed_host(host):
    return host.lower() in settings.WEBHOOK_ALLOWED_HOSTS


def _split(url):
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeTarget(_("This is not a valid URL.")) from None
    if parts.scheme.lower() not in SCHEMES:
        raise UnsafeTarget(_("Only http:// and https:// addresses can receive webhooks."))
    if not parts.hostname:
        raise UnsafeTarget(_("The URL has no host name."))
    if parts.username or parts.password:
        raise UnsafeTarget(_("Put no user name or password in the URL."))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme.lower(), parts.hostname, port or SCHEMES[parts.scheme.lower()], path


def resolve(host, port):
    """Every address ``host`` resolves to (a literal address resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Unresolvable(
            _("The host name %(host)s cannot be resolved.") % {"host": host}
        ) from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def check(url):
    """The :class:`Target` to connect to for ``url``, or :class:`UnsafeTarget`."""
    scheme, host, port, path = _split(url)
    addresses = resolve(host, port)
    if not addresses:
        raise Unresolvable(_("The host name %(host)s cannot be resolved.") % {"host": host})
    if not allowed_host(host):
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            # Any non-public answer refuses the host: the connection must not pick it.
            raise UnsafeTarget(
                _(
                    "%(host)s resolves to %(address)s, a private, loopback or reserved "
                    "address, which LeadFlow does not send to."
                )
                % {"host": host, "address": refused[0]}
            )
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])
