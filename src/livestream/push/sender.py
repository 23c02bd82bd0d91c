"""The "push" notification channel and the job that sends one push.

For each committed batch the channel finds, in one query, the subscriptions of the recipients who turned push
on and have the kind on, and enqueues one ``notifications.push`` job per (notification, subscription); the
enqueueing runs beside the fan-out, never inside it. The job encrypts the message for the browser (RFC 8291,
aes128gcm, with pywebpush's encoder), signs a VAPID token for the push service's origin (py-vapid), and POSTs
with requests on one of the sender's own ``CONCURRENT_SENDS`` threads. The answer's body is never read (an
endpoint is a URL any user can point at their own host, which could answer with an endless body), and the whole
send is cut off at a total deadline; the slot is held until the thread is really done.

What the push service answers decides what happens next: 2xx counts a success; 404 and 410 mean the browser
dropped the subscription, so the row goes and nothing is retried; 429 and 5xx, timeouts, connection errors and a
name that does not resolve are retried (after Retry-After when the service says, otherwise the job runtime's
backoff) and are not held against the subscription, so an outage of a push service drops nobody; any other
answer is given up and counted, and a subscription refused ``MAX_FAILURES`` times in a row is dropped. A message
older than its TTL is not sent any more.
"""

from __future__ import annotations

import asyncio
import http.client
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from pywebpush import WebPusher

from livestream.db import Database
from livestream.jobs.runtime import JobRuntime, RetryLater
from livestream.logging import get_logger
from livestream.notifications.delivery import Written
from livestream.push.endpoints import (
    EndpointRefused,
    EndpointUnresolved,
    PushSession,
    SendDeadline,
    SendExpired,
    check_endpoint,
)
from livestream.push.keys import VapidKeys, load_or_create
from livestream.push.message import PushMessage, render
from livestream.push.repository import PushRepository

log = get_logger("livestream.push")

SEND = "notifications.push"
SEND_ATTEMPTS = 6
# One POST to a push service: connect and each read; the whole send is cut off at twice this.
SEND_TIMEOUT_SECONDS = 10.0
# Pushes in flight in this process, each on one of the sender's own threads (never the shared default executor
# that DNS, archives and storage use).
CONCURRENT_SENDS = 8
# A subscription the push service refused (a 4xx other than 404, 410 and 429) this many times in a row, with no
# success between, is dropped. Transient failures do not count.
MAX_FAILURES = 20
# A Retry-After longer than this is not waited for: the job runtime's backoff takes over.
MAX_RETRY_AFTER_SECONDS = 3600.0
# The VAPID token's lifetime (RFC 8292 allows at most 24 hours).
TOKEN_SECONDS = 12 * 3600


class PushServiceBusy(Exception):
    """The push service answered 429 or 5xx: the job runtime tries again with backoff."""


class PushServiceUnreachable(Exception):
    """The push service's name did not resolve, or the connection failed or timed out: tried again with backoff."""


# What a send that did not get an answer raises: all transient.
_TRANSPORT_ERRORS = (requests.RequestException, http.client.HTTPException, OSError, SendExpired)


class WebPush:
    def __init__(
        self,
        db: Database,
        runtime: JobRuntime,
        *,
        public_url: str,
        subject: str,
        allow_private: bool,
        configured_keys: VapidKeys | None = None,
        timeout: float = SEND_TIMEOUT_SECONDS,
    ) -> None:
        self.db = db
        self.runtime = runtime
        self.public_url = public_url
        self.subject = subject
        self.allow_private = allow_private
        self.timeout = timeout
        self._keys = configured_keys
        self._loading = asyncio.Lock()
        self._slots = asyncio.Semaphore(CONCURRENT_SENDS)
        self._threads = ThreadPoolExecutor(max_workers=CONCURRENT_SENDS, thread_name_prefix="push-send")
        self._sending: set[SendDeadline] = set()

    # --- keys ------------------------------------------------------------------------------------------------

    @property
    def public_key(self) -> str | None:
        """The applicationServerKey; None until the keys are loaded (``start``)."""
        return self._keys.public_key if self._keys is not None else None

    async def start(self) -> None:
        await self.keys()

    async def close(self) -> None:
        """Cut off the sends in flight and stop the threads (without waiting: a thread in a name lookup cannot
        be interrupted, and its socket is already refused)."""
        for deadline in list(self._sending):
            deadline.expire()
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def keys(self) -> VapidKeys:
        if self._keys is None:
            async with self._loading:
                if self._keys is None:
                    self._keys = await load_or_create(self.db)
        return self._keys

    # --- the channel -----------------------------------------------------------------------------------------

    def register(self) -> None:
        self.runtime.register(SEND, self.send, attempts=SEND_ATTEMPTS)

    async def channel(self, rows: Sequence[Written]) -> None:
        """Delivery channel: one job per new notification and subscription that wants it."""
        fresh = [row for row in rows if row.new]
        if not fresh:
            return
        async with self.db.sessionmaker() as session:
            recipients = await PushRepository(session).recipients(row.user_id for row in fresh)
        if not recipients:
            return
        by_user: dict[uuid.UUID, list[Any]] = defaultdict(list)
        for recipient in recipients:
            by_user[recipient.user_id].append(recipient)
        jobs: list[dict[str, Any]] = []
        now = time.time()
        for row in fresh:
            wanted = [r for r in by_user.get(row.user_id, ()) if row.kind in r.kinds]
            if not wanted:
                continue
            message = render(row, self.public_url)
            for recipient in wanted:
                jobs.append(
                    {
                        "subscription_id": str(recipient.subscription_id),
                        "notification_id": str(row.notification_id),
                        "message": asdict(message),
                        "expires_at": now + message.ttl,
                    }
                )
        if jobs:
            self.runtime.spawn(self._enqueue(jobs), name="push.enqueue")

    async def _enqueue(self, jobs: list[dict[str, Any]]) -> None:
        for payload in jobs:
            await self.runtime.enqueue(SEND, **payload)

    # --- the job ---------------------------------------------------------------------------------------------

    async def send(
        self, subscription_id: str, notification_id: str, message: dict[str, Any], expires_at: float
    ) -> None:
        ident = uuid.UUID(subscription_id)
        if time.time() > expires_at:
            log.info("push_expired", subscription_id=subscription_id, notification_id=notification_id)
            return
        async with self.db.sessionmaker() as session:
            subscription = await PushRepository(session).get(ident)
        if subscription is None:
            return  # unsubscribed since
        push = PushMessage(**message)
        endpoint, p256dh, auth = subscription.endpoint, subscription.p256dh, subscription.auth
        keys = await self.keys()
        origin = _origin(endpoint)
        try:
            await check_endpoint(endpoint, allow_private=self.allow_private)
            status, retry_after = await self._bounded_post(keys, endpoint, p256dh, auth, push)
        except EndpointUnresolved:
            log.info("push_unreachable", subscription_id=subscription_id, service=origin, error="does not resolve")
            raise PushServiceUnreachable(f"push service {origin} does not resolve") from None
        except EndpointRefused as refused:
            log.warning("push_endpoint_refused", subscription_id=subscription_id, reason=str(refused))
            await self._failed(ident)
            return
        except _TRANSPORT_ERRORS as error:
            reason = f"{type(error).__name__}: {error}"[:300]
            log.info("push_unreachable", subscription_id=subscription_id, service=origin, error=reason)
            raise PushServiceUnreachable(f"push service {origin} unreachable ({type(error).__name__})") from None
        if 200 <= status < 300:
            async with self.db.unit_of_work() as session:
                await PushRepository(session).succeeded(ident)
            log.info("push_sent", subscription_id=subscription_id, notification_id=notification_id, status=status)
            return
        if status in (404, 410):
            async with self.db.unit_of_work() as session:
                await PushRepository(session).delete_ids([ident])
            log.info("push_subscription_gone", subscription_id=subscription_id, status=status, service=origin)
            return
        if status == 429 or status >= 500:
            delay = _retry_after_seconds(retry_after)
            if delay is not None and delay <= MAX_RETRY_AFTER_SECONDS and time.time() + delay < expires_at:
                raise RetryLater(f"push service {origin} answered {status}", delay=delay)
            raise PushServiceBusy(f"push service {origin} answered {status}")
        failures = await self._failed(ident)
        log.warning("push_refused", subscription_id=subscription_id, status=status, service=origin, failures=failures)

    async def _failed(self, ident: uuid.UUID) -> int:
        """One more permanent refusal; the subscription goes at ``MAX_FAILURES`` in a row."""
        async with self.db.unit_of_work() as session:
            repository = PushRepository(session)
            failures = await repository.failed(ident)
            if failures >= MAX_FAILURES:
                await repository.delete_ids([ident])
                log.info("push_subscription_dropped", subscription_id=str(ident), failures=failures)
        return failures

    async def _bounded_post(
        self, keys: VapidKeys, endpoint: str, p256dh: str, auth: str, push: PushMessage
    ) -> tuple[int, str | None]:
        """``_post`` on one of our threads, cut off at twice the timeout. The slot is given back when the thread
        returns, not when this coroutine stops waiting (cancelled, the send is cut off at once)."""
        loop = asyncio.get_running_loop()
        deadline = SendDeadline()
        await self._slots.acquire()
        try:
            future = loop.run_in_executor(self._threads, self._post, deadline, keys, endpoint, p256dh, auth, push)
        except BaseException:
            self._slots.release()
            raise
        self._sending.add(deadline)

        def done(finished: asyncio.Future[tuple[int, str | None]]) -> None:
            self._sending.discard(deadline)
            self._slots.release()
            if not finished.cancelled():
                finished.exception()  # seen, when this coroutine was cancelled and nobody else looks

        future.add_done_callback(done)
        timer = loop.call_later(self.timeout * 2, deadline.expire)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            deadline.expire()
            raise
        finally:
            timer.cancel()

    def _post(
        self, deadline: SendDeadline, keys: VapidKeys, endpoint: str, p256dh: str, auth: str, push: PushMessage
    ) -> tuple[int, str | None]:
        """On a push thread: encrypt, sign and POST; the status and Retry-After of the answer, its body unread."""
        claims: dict[str, str | int] = {
            "sub": self.subject,
            "aud": _origin(endpoint),
            "exp": int(time.time()) + TOKEN_SECONDS,
        }
        headers: dict[str, str] = dict(keys.vapid().sign(claims))
        # RFC 8291 (aes128gcm): the salt and our ephemeral key travel in the body's header, none in HTTP headers.
        encoder = WebPusher({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}})
        body: bytes = encoder.encode(push.payload(), "aes128gcm")["body"]
        headers["Content-Encoding"] = "aes128gcm"
        headers["Content-Type"] = "application/octet-stream"
        headers["TTL"] = str(push.ttl)
        headers["Urgency"] = push.urgency
        if push.topic:
            headers["Topic"] = push.topic
        with PushSession(allow_private=self.allow_private) as session, session.deadline(deadline):
            response = session.post(endpoint, data=body, headers=headers, timeout=(self.timeout, self.timeout))
            with response:  # closed unread: the status line and headers are the answer
                return int(response.status_code), response.headers.get("Retry-After")


def _origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date (RFC 9110 section 10.2.3); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), 10**6))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - time.time())
