"""Push endpoints are URLs users send us and our server then POSTs to: the checks that keep that from reaching
inside our network (SSRF).

An endpoint must be an https URL whose host resolves only to public addresses. The address is checked twice:
when the subscription is made (a clear 400), and on the socket itself when a push is sent, after the connection
is made, so a name that resolved to a public address then and to 10.0.0.5 now (DNS rebinding) is still refused.
Redirects are not followed and no proxy from the environment is used. ``allow_private`` (tests, a lab push
service; refused in production by the settings) lifts the address rules and allows http.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from livestream.push.models import ENDPOINT_MAX

# A name that takes longer than this to resolve is refused rather than holding the request.
RESOLVE_TIMEOUT_SECONDS = 5.0


class EndpointRefused(Exception):
    """Not an endpoint we send to; the message says why (shown to the user who sent it)."""


def public_address(address: str) -> bool:
    """True for an address on the public internet: not loopback, private, link-local, shared (CGNAT),
    multicast, reserved or unspecified; an IPv4 address mapped into IPv6 is judged as IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool) -> tuple[str, int]:
    """The endpoint's host and port; ``EndpointRefused`` for anything but a plain https URL (http too with
    ``allow_private``): no credentials in it, no fragment, a host, printable ASCII, at most 1 KiB."""
    if len(url.encode("utf-8", errors="surrogatepass")) > ENDPOINT_MAX:
        raise EndpointRefused(f"endpoint is longer than {ENDPOINT_MAX} bytes")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise EndpointRefused("endpoint must be a URL of printable ASCII characters")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise EndpointRefused("endpoint is not a valid URL") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise EndpointRefused("endpoint must be an https URL")
    if not host:
        raise EndpointRefused("endpoint has no host")
    if parts.username is not None or parts.password is not None:
        raise EndpointRefused("endpoint must not hold credentials")
    if parts.fragment:
        raise EndpointRefused("endpoint must not have a fragment")
    return host, port or (443 if parts.scheme == "https" else 80)


async def check_endpoint(url: str, *, allow_private: bool) -> None:
    """``check_url``, then the host's addresses: every one must be public (unless ``allow_private``)."""
    host, port = check_url(url, allow_private=allow_private)
    if allow_private:
        return
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        if not public_address(str(literal)):
            raise EndpointRefused("endpoint's host is not a public address")
        return
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError):
        raise EndpointRefused("endpoint's host does not resolve") from None
    addresses = {str(info[4][0]) for info in infos}
    if not addresses:
        raise EndpointRefused("endpoint's host does not resolve")
    if not all(public_address(address) for address in addresses):
        raise EndpointRefused("endpoint's host resolves to a private, loopback or link-local address")


# --- the guarded HTTP session pywebpush sends with ------------------------------------------------------------


def _checked(sock: socket.socket) -> socket.socket:
    peer = sock.getpeername()[0]
    if not public_address(str(peer)):
        sock.close()
        raise EndpointRefused("endpoint's host resolved to a private address when sending")
    return sock


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _checked(super()._new_conn())


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _checked(super()._new_conn())


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


class PushSession(requests.Session):
    """What pywebpush posts with: no redirects, no proxies from the environment, the body left unread (a push
    service's answer body is not needed, and an endpoint could send an endless one), and, unless
    ``allow_private``, only public peers."""

    def __init__(self, *, allow_private: bool) -> None:
        super().__init__()
        self.trust_env = False
        if not allow_private:
            adapter = _GuardedAdapter(max_retries=0)
            self.mount("https://", adapter)
            self.mount("http://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True
        verb = method.decode("ascii") if isinstance(method, bytes) else method
        return super().request(verb, url, *args, **kwargs)
