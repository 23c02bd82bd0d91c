"""The "push" notification channel and the job that sends one push.

For each committed batch the channel finds, in one query, the subscriptions of the recipients who turned push
on and have the kind on, and enqueues one ``notifications.push`` job per (notification, subscription); the
enqueueing runs beside the fan-out, never inside it. The job encrypts the message for the browser (RFC 8291,
aes128gcm), signs a VAPID token for the push service's origin, and POSTs with pywebpush on a thread (it is a
blocking library), bounded by a timeout and by ``CONCURRENT_SENDS``.

What the push service answers decides what happens next: 2xx counts a success; 404 and 410 mean the browser
dropped the subscription, so the row goes and nothing is retried; 429 and 5xx are retried (after Retry-After
when the service says, otherwise the job runtime's backoff); any other 4xx is given up (and a subscription that
keeps failing is dropped). A message older than its TTL is not sent any more.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from pywebpush import WebPusher

from livestream.db import Database
from livestream.jobs.runtime import JobRuntime, RetryLater
from livestream.logging import get_logger
from livestream.notifications.delivery import Written
from livestream.push.endpoints import EndpointRefused, PushSession, check_endpoint
from livestream.push.keys import VapidKeys, load_or_create
from livestream.push.message import PushMessage, render
from livestream.push.repository import PushRepository

log = get_logger("livestream.push")

SEND = "notifications.push"
SEND_ATTEMPTS = 6
# One POST to a push service: connect and each read; the whole send is cut off at twice this.
SEND_TIMEOUT_SECONDS = 10.0
# Pushes in flight in this process (each holds a thread while it waits on the network).
CONCURRENT_SENDS = 8
# A subscription whose sends failed this many times in a row (no success between) is dropped.
MAX_FAILURES = 20
# A Retry-After longer than this is not waited for: the job runtime's backoff takes over.
MAX_RETRY_AFTER_SECONDS = 3600.0
# The VAPID token's lifetime (RFC 8292 allows at most 24 hours).
TOKEN_SECONDS = 12 * 3600


class PushServiceBusy(Exception):
    """The push service answered 429 or 5xx: the job runtime tries again with backoff."""


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

    # --- keys ------------------------------------------------------------------------------------------------

    @property
    def public_key(self) -> str | None:
        """The applicationServerKey; None until the keys are loaded (``start``)."""
        return self._keys.public_key if self._keys is not None else None

    async def start(self) -> None:
        await self.keys()

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
        try:
            await check_endpoint(endpoint, allow_private=self.allow_private)
            async with self._slots:
                status, retry_after = await asyncio.wait_for(
                    asyncio.to_thread(self._post, keys, endpoint, p256dh, auth, push),
                    timeout=self.timeout * 2,
                )
        except EndpointRefused as refused:
            log.warning("push_endpoint_refused", subscription_id=subscription_id, reason=str(refused))
            await self._failed(ident)
            return
        except Exception:
            await self._failed(ident)
            raise
        origin = _origin(endpoint)
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
        failures = await self._failed(ident)
        if status == 429 or status >= 500:
            delay = _retry_after_seconds(retry_after)
            if delay is not None and delay <= MAX_RETRY_AFTER_SECONDS and time.time() + delay < expires_at:
                raise RetryLater(f"push service {origin} answered {status}", delay=delay)
            raise PushServiceBusy(f"push service {origin} answered {status}")
        log.warning("push_refused", subscription_id=subscription_id, status=status, service=origin, failures=failures)

    async def _failed(self, ident: uuid.UUID) -> int:
        async with self.db.unit_of_work() as session:
            repository = PushRepository(session)
            failures = await repository.failed(ident)
            if failures >= MAX_FAILURES:
                await repository.delete_ids([ident])
                log.info("push_subscription_dropped", subscription_id=str(ident), failures=failures)
        return failures

    def _post(
        self, keys: VapidKeys, endpoint: str, p256dh: str, auth: str, push: PushMessage
    ) -> tuple[int, str | None]:
        """On a thread: sign, encrypt and POST; the status and Retry-After of the answer (its body unread)."""
        claims: dict[str, str | int] = {
            "sub": self.subject,
            "aud": _origin(endpoint),
            "exp": int(time.time()) + TOKEN_SECONDS,
        }
        headers: dict[str, str] = dict(keys.vapid().sign(claims))
        headers["Urgency"] = push.urgency
        if push.topic:
            headers["Topic"] = push.topic
        info = {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}
        with PushSession(allow_private=self.allow_private) as session:
            pusher = WebPusher(info, requests_session=session)
            response = pusher.send(
                push.payload(), headers, ttl=push.ttl, content_encoding="aes128gcm", timeout=self.timeout
            )
            try:
                return int(response.status_code), response.headers.get("Retry-After")
            finally:
                response.close()


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
