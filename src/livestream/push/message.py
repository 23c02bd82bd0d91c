"""What a push says: a small JSON the service worker (web/public/sw.js) shows, made from a notification's row.

The texts follow web/src/notifications/describe.ts. Every field is bounded, so the encrypted payload stays far
below the 4 KiB push services accept (RFC 8291 adds 103 bytes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from livestream.notifications.delivery import Written
from livestream.payments.money import payload_amount

TITLE_MAX = 120
BODY_MAX = 300
PAYLOAD_MAX_BYTES = 3 * 1024

# How long a push service keeps a message for a browser that is offline: a go-live is stale within the hour.
TTL_SECONDS = {
    "stream_started": 3600,
    "schedule_reminder": 15 * 60,
    "archive_ready": 24 * 3600,
    "new_follower": 24 * 3600,
    "tip_received": 24 * 3600,
}
# RFC 8030 section 5.3: "high" wakes a phone at once; the rest can wait for a convenient moment.
URGENCY = {
    "stream_started": "high",
    "schedule_reminder": "high",
    "archive_ready": "normal",
    "new_follower": "low",
    "tip_received": "normal",
}


@dataclass(frozen=True)
class PushMessage:
    title: str
    body: str
    url: str
    tag: str
    ttl: int
    urgency: str
    # RFC 8030 section 5.4: a newer message with the same topic replaces one not yet delivered (URL-safe
    # base64 alphabet, at most 32 characters).
    topic: str | None = None

    def payload(self) -> bytes:
        data = json.dumps(
            {"title": self.title, "body": self.body, "url": self.url, "tag": self.tag},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        assert len(data) <= PAYLOAD_MAX_BYTES, "fields are bounded"
        return data


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _path(*parts: str) -> str:
    return "/" + "/".join(quote(part, safe="") for part in parts)


def render(row: Written, public_url: str) -> PushMessage:
    payload = _dict(row.payload)
    base = public_url.rstrip("/")
    stream_id = _text(payload.get("stream_id"))
    watch = base + _path("watch", stream_id) if stream_id else base + "/notifications"
    creator = _dict(payload.get("creator"))
    who = _text(creator.get("display_name")) or _text(creator.get("username"))
    title_of_stream = _text(payload.get("title"))
    topic: str | None = None
    if row.kind == "stream_started":
        title = f"{who or 'Someone you follow'} is live"
        body = title_of_stream or "Watch now"
        url = watch
    elif row.kind == "schedule_reminder":
        title = f"{who} goes live soon" if who else "A scheduled stream starts soon"
        body = title_of_stream or "Starting soon"
        url = watch if stream_id else base + "/notifications"
    elif row.kind == "archive_ready":
        title = "Your replay is ready"
        body = title_of_stream or "Watch it again"
        url = watch
    elif row.kind == "new_follower":
        names = [n for n in payload.get("names", []) if isinstance(n, str)] if isinstance(payload, dict) else []
        count = payload.get("count")
        count = count if isinstance(count, int) and count > 0 else max(1, len(names))
        title = "New followers" if count > 1 else "New follower"
        body = _followers_text(count, names)
        url = base + "/notifications"
        topic = "new-follower"
    elif row.kind == "tip_received":
        sender = _dict(payload.get("sender"))
        who = _text(sender.get("display_name")) or _text(sender.get("username")) or "A viewer"
        money = payload_amount(payload)
        title = f"{who} tipped you {money}" if money else f"{who} sent you a tip"
        body = _text(payload.get("message")) or "Thank you!"
        url = base + "/earnings"
    else:
        title, body, url = "New notification", "", base + "/notifications"
    return PushMessage(
        title=_cut(title, TITLE_MAX),
        body=_cut(body, BODY_MAX),
        url=url,
        tag=f"{row.kind}:{stream_id or row.notification_id}",
        ttl=TTL_SECONDS.get(row.kind, 3600),
        urgency=URGENCY.get(row.kind, "normal"),
        topic=topic,
    )


def _followers_text(count: int, names: list[str]) -> str:
    names = [_cut(n, 40) for n in names[:3]]
    others = max(0, count - len(names))
    if not names:
        return f"{count} new people followed you"
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    if others == 0:
        return f"{listed} followed you"
    return f"{', '.join(names)} and {others} {'other' if others == 1 else 'others'} followed you"
