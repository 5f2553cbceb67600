"""The SSRF guard: a channel URL may only reach public addresses.

Checked when a channel is saved and again at every send, on the addresses the name resolves to
at that moment; the sender then connects to the checked address itself, so a DNS answer that
changes between check and connect (rebinding) cannot reach an internal host. Decimal, octal and
hexadecimal IP spellings are caught because the check runs on the resolved address, not on the
text. `WEBHOOK_ALLOW_PRIVATE=true` lifts the address check (development and tests only).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

ALLOWED_SCHEMES = ("https", "http")
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURLError(ValueError):
    """The URL is malformed, uses another scheme, or reaches a non-public address."""


class UnresolvableURLError(UnsafeURLError):
    """The host name does not resolve now (may be temporary)."""


@dataclass(frozen=True)
class CheckedURL:
    url: str
    scheme: str
    host: str  # as written (IDNA-encoded), without brackets
    port: int
    addresses: tuple[str, ...]  # every resolved address, all checked

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in an IPv4-mapped, 6to4, Teredo or NAT64 IPv6 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress) -> str | None:
    """Why this address may not be reached, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return address_refusal(embedded)
    if address.is_loopback:
        return _("a loopback address")
    if address.is_link_local:
        return _("a link-local address")
    if address.is_multicast:
        return _("a multicast address")
    if address.is_private:
        return _("a private address")
    if address.is_unspecified or address.is_reserved or not address.is_global:
        # CGNAT 100.64/10, documentation and benchmark ranges and the like.
        return _("a non-public address")
    return None


def _resolve(host: str, port: int) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableURLError(
            _("The host %(host)s could not be resolved.") % {"host": host}
        ) from exc
    # Keep resolver order (it prefers what the machine can reach), drop duplicates.
    return tuple(dict.fromkeys(info[4][0] for info in infos))


def normalise_host(host: str) -> str:
    """The ASCII (IDNA) form of a host name, without a trailing dot, lower case."""
    host = (host or "").rstrip(".").lower()
    return host if host.isascii() else host.encode("idna").decode("ascii")


def check_url(url: str, *, allow_private: bool | None = None) -> CheckedURL:
    """Parse, resolve and check `url`; raise UnsafeURLError with a one-line reason."""
    if allow_private is None:
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURLError(_("This is not a valid URL.")) from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UnsafeURLError(_("Only https:// URLs can be used."))
    if parts.username is not None or parts.password is not None:
        raise UnsafeURLError(_("A URL with a user name or password is not accepted."))
    try:
        host = normalise_host(parts.hostname or "")
    except UnicodeError as exc:
        raise UnsafeURLError(_("The host name is not valid.")) from exc
    if not host:
        raise UnsafeURLError(_("The URL has no host."))
    port = port or (443 if scheme == "https" else 80)
    addresses = _resolve(host, port)
    if not allow_private:
        for text in addresses:
            reason = address_refusal(ipaddress.ip_address(text.split("%", 1)[0]))
            if reason:
                raise UnsafeURLError(
                    _("%(host)s resolves to %(address)s, %(reason)s: refused.")
                    % {"host": host, "address": text, "reason": reason}
                )
    if not addresses:
        raise UnresolvableURLError(_("The host %(host)s could not be resolved.") % {"host": host})
    if scheme == "http" and not allow_private:
        raise UnsafeURLError(_("Only https:// URLs can be used."))
    return CheckedURL(url=url, scheme=scheme, host=host, port=port, addresses=addresses)
