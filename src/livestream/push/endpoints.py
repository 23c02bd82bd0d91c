"""Push endpoints are URLs users send us and our server then POSTs to: the checks that keep that from reaching
inside our network (SSRF).

An endpoint must be an https URL on port 443 whose host resolves only to public addresses. The address is
checked twice: when the subscription is made (a clear 400), and on the socket itself when a push is sent, after
the connection is made, so a name that resolved to a public address then and to 10.0.0.5 now (DNS rebinding) is
still refused. Redirects are not followed and no proxy from the environment is used. ``allow_private`` (tests, a
lab push service; refused in production by the settings) lifts the address and port rules and allows http.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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


class EndpointUnresolved(EndpointRefused):
    """The endpoint's host did not resolve (or not in time): refused when subscribing, tried again when sending
    (a resolver's bad minute is not the subscription's fault)."""


# IPv6 ranges that carry an IPv4 address in their low bits: a connection to one reaches that IPv4 host (through
# a NAT64 gateway or a 6to4 relay, perhaps ours), so the IPv4 address is what is judged.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052, as DNS64 answers on IPv6-only networks
# Refused whatever they embed: local-use NAT64 (RFC 8215; the IPv4 part's place depends on the operator's prefix
# length), IPv4-compatible (deprecated by RFC 4291; also holds :: and ::1), IPv4-translated (RFC 2765) and Teredo
# (whose client address is obfuscated).
_REFUSED_V6 = tuple(ipaddress.IPv6Network(net) for net in ("64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96", "2001::/32"))


def public_address(address: str) -> bool:
    """True for an address on the public internet: not loopback, private, link-local, shared (CGNAT),
    multicast, reserved or unspecified. An IPv6 address embedding an IPv4 one (IPv4-mapped, NAT64 64:ff9b::/96,
    6to4 2002::/16) is judged by that IPv4 address; the other IPv4-embedding ranges are refused."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif any(ip in net for net in _REFUSED_V6):
            return False
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool) -> tuple[str, int]:
    """The endpoint's host and port; ``EndpointRefused`` for anything but a plain https URL on port 443 (http
    and any port too with ``allow_private``): no credentials in it, no fragment, a host, printable ASCII, at most
    1 KiB. Push services all listen on 443; another port would let an endpoint reach any service on a host."""
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
    if not allow_private and port not in (None, 443):
        raise EndpointRefused("endpoint must use port 443")
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
    except UnicodeError:
        raise EndpointRefused("endpoint's host is not a valid name") from None
    except (OSError, TimeoutError):
        raise EndpointUnresolved("endpoint's host does not resolve") from None
    addresses = {str(info[4][0]) for info in infos}
    if not addresses:
        raise EndpointUnresolved("endpoint's host does not resolve")
    if not all(public_address(address) for address in addresses):
        raise EndpointRefused("endpoint's host resolves to a private, loopback or link-local address")


# --- the HTTP session pushes are sent with ---------------------------------------------------------------


class SendExpired(Exception):
    """The send's total deadline passed (its sockets were shut down): a transient failure, tried again."""


class SendDeadline:
    """The sockets one send opened, so that the whole send (connect, TLS, headers trickled a byte at a time) can
    be cut off at a total deadline from another thread: ``expire`` shuts them down, and a blocked read returns.

    Each socket is watched through a duplicate of its descriptor: shutting the duplicate down shuts the
    connection down (TLS wraps and detaches the original object), and the duplicate is ours to close, so an
    ``expire`` that comes late never touches a descriptor number the process has since reused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._expired = False
        self._finished = False

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self._expired or self._finished:
                sock.close()
                raise SendExpired("the send's deadline passed before it connected")
            self._sockets.append(sock.dup())

    def expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self._expired = True
            for sock in self._sockets:
                with suppress(OSError):  # already closed by the peer
                    sock.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        with self._lock:
            self._finished = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()


# The deadline of the send running on this thread (set by ``PushSession.deadline``).
_current = threading.local()


def _opened(sock: socket.socket, *, guarded: bool) -> socket.socket:
    if guarded:
        peer = sock.getpeername()[0]
        if not public_address(str(peer)):
            sock.close()
            raise EndpointRefused("endpoint's host resolved to a private address when sending")
    deadline: SendDeadline | None = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)
    return sock


class _PushHTTPConnection(HTTPConnection):
    guarded = False

    def _new_conn(self) -> socket.socket:
        return _opened(super()._new_conn(), guarded=self.guarded)


class _PushHTTPSConnection(HTTPSConnection):
    guarded = False

    def _new_conn(self) -> socket.socket:
        return _opened(super()._new_conn(), guarded=self.guarded)


class _GuardedHTTPConnection(_PushHTTPConnection):
    guarded = True


class _GuardedHTTPSConnection(_PushHTTPSConnection):
    guarded = True


class _PushHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PushHTTPConnection


class _PushHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PushHTTPSConnection


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _PushAdapter(HTTPAdapter):
    def __init__(self, *, guarded: bool) -> None:
        self.guarded = guarded
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        if self.guarded:
            self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}
        else:
            self.poolmanager.pool_classes_by_scheme = {"http": _PushHTTPPool, "https": _PushHTTPSPool}


class PushSession(requests.Session):
    """What pushes are posted with: no redirects (and a redirect's body is not read, as requests would to
    release the connection), no proxies from the environment, the answer's body left unread (it is not needed,
    and an endpoint could send an endless one), and, unless ``allow_private``, only public peers."""

    def __init__(self, *, allow_private: bool) -> None:
        super().__init__()
        self.trust_env = False
        adapter = _PushAdapter(guarded=not allow_private)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True
        verb = method.decode("ascii") if isinstance(method, bytes) else method
        return super().request(verb, url, *args, **kwargs)

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        # requests reads a redirect's whole body, even with allow_redirects=False, when it looks for the next hop.
        return None

    @contextmanager
    def deadline(self, deadline: SendDeadline) -> Iterator[None]:
        """The connections this thread opens meanwhile are cut off when ``deadline`` expires."""
        _current.deadline = deadline
        try:
            yield
        finally:
            _current.deadline = None
            deadline.finish()
