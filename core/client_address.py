"""The address a request came from: the one rule the login lockout (django-axes) and the API's per-address rate
limit both use.

Behind a TLS proxy (BEHIND_TLS_PROXY), REMOTE_ADDR is the proxy's own address: every client would share one lockout
and one rate budget, and anyone could lock any staff account for everyone. There the client's address is read from
X-Forwarded-For. Each of the TRUSTED_PROXY_COUNT proxies appends the address it received the request from, so the
client's is that many entries from the right; whatever the client itself put before them is ignored. Without a proxy
the header is ignored altogether: a client cannot pick its own address.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address: from the trusted proxies' X-Forwarded-For when BEHIND_TLS_PROXY, else REMOTE_ADDR."""
    remote = request.META.get("REMOTE_ADDR") or None
    if not settings.BEHIND_TLS_PROXY:
        return remote
    forwarded = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
    if not forwarded:
        return remote
    candidate = forwarded[-min(settings.TRUSTED_PROXY_COUNT, len(forwarded))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        # Not an address our proxy would write: rather the proxy's address than a string the client chose.
        return remote
