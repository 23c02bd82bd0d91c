"""Chat history and moderation over HTTP, on SQLite and PostgreSQL.

Messages reach the history through ``ChatService.send`` (what the WebSocket gateway calls), so these tests need
no socket; tests/chat/test_socket*.py cover the WebSocket itself.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from livestream.chat import errors
from livestream.chat.gateway import make_chat_service
from livestream.chat.models import ChatBan
from livestream.chat.schemas import MAX_TIMEOUT_SECONDS
from livestream.chat.service import channel_of
from livestream.db import utcnow
from livestream.realtime.engine import PresenceCount, PresenceEntry
from livestream.streams.errors import StreamEnded
from livestream.streams.repository import StreamRepository
from livestream.users.models import User
from tests.api.helpers import assert_error, bearer, container, quick_user

UNKNOWN = "00000000-0000-4000-8000-000000000000"
XSS = "<img src=x onerror=alert(1)>"


@dataclass
class Member:
    user: dict[str, Any]
    token: str

    @property
    def id(self) -> str:
        return str(self.user["user_id"])

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class Channel:
    """A live stream, its creator, an appointed moderator and two plain viewers."""

    stream_id: str
    creator: Member
    moderator: Member
    viewer: Member
    other: Member

    def url(self, suffix: str = "") -> str:
        return f"/api/streams/{self.stream_id}{suffix}"


async def _member(app: FastAPI) -> Member:
    user, token = await quick_user(app)
    return Member(user, token)


async def _channel(app: FastAPI, client: httpx.AsyncClient) -> Channel:
    creator, moderator, viewer, other = [await _member(app) for _ in range(4)]
    created = await client.post("/api/streams", json={"title": "Chat night"}, headers=creator.headers)
    assert created.status_code == 201, created.text
    channel = Channel(created.json()["stream_id"], creator, moderator, viewer, other)
    appointed = await client.put(channel.url(f"/moderators/{moderator.id}"), headers=creator.headers)
    assert appointed.status_code == 200, appointed.text
    return channel


async def _send(app: FastAPI, stream_id: str, member: Member, text: str) -> str:
    """Publish a chat message through the app's ChatService, as the gateway does; returns its id."""
    async with container(app).db.sessionmaker() as session:
        user = await session.get(User, uuid.UUID(member.id))
        assert user is not None
        return await make_chat_service(session, container(app).settings, container(app).engine).send(
            uuid.UUID(stream_id), user, text
        )


async def _history(client: httpx.AsyncClient, stream_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/streams/{stream_id}/chat")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _bans(client: httpx.AsyncClient, channel: Channel) -> list[dict[str, Any]]:
    response = await client.get(channel.url("/bans"), headers=channel.creator.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- History ---------------------------------------------------------------------------------------


async def test_history_of_a_new_stream_is_empty(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    response = await client.get(channel.url("/chat"))
    assert response.status_code == 200, response.text
    assert response.json() == {"items": []}


async def test_history_of_unknown_and_malformed_stream(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(f"/api/streams/{UNKNOWN}/chat"), 404, "STREAM_NOT_FOUND")
    body = assert_error(await client.get("/api/streams/not-a-uuid/chat"), 400, "VALIDATION_ERROR")
    assert "stream_id" in body["fields"]


async def test_history_is_oldest_first_with_the_exact_text(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    first = await _send(app, channel.stream_id, channel.viewer, "  hello\tthere  ")
    second = await _send(app, channel.stream_id, channel.other, XSS)
    third = await _send(app, channel.stream_id, channel.creator, "welcome 👋")
    items = await _history(client, channel.stream_id)
    assert [m["id"] for m in items] == [first, second, third]
    # Control characters become spaces and the ends are trimmed; markup is kept verbatim (clients render text).
    assert [m["text"] for m in items] == ["hello there", XSS, "welcome 👋"]
    assert items[1]["user"] == {"user_id": channel.other.id, "username": channel.other.user["username"]}
    sent = [_when(m["sent_at"]) for m in items]
    assert sent == sorted(sent)
    assert abs(sent[-1] - datetime.now(UTC)) < timedelta(seconds=30)
    # Anyone may read it; a token changes nothing.
    again = await client.get(channel.url("/chat"), headers=channel.viewer.headers)
    assert again.json()["items"] == items


async def test_history_belongs_to_one_stream(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    elsewhere = await _channel(app, client)
    await _send(app, channel.stream_id, channel.viewer, "here")
    assert await _history(client, elsewhere.stream_id) == []
    assert [m["text"] for m in await _history(client, channel.stream_id)] == ["here"]


# --- Deleting messages -----------------------------------------------------------------------------


async def test_creator_and_moderator_delete_messages(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    doomed_by_creator = await _send(app, channel.stream_id, channel.viewer, "spam one")
    kept = await _send(app, channel.stream_id, channel.other, "a fair point")
    doomed_by_moderator = await _send(app, channel.stream_id, channel.viewer, "spam two")

    response = await client.delete(channel.url(f"/chat/{doomed_by_creator}"), headers=channel.creator.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert [m["id"] for m in await _history(client, channel.stream_id)] == [kept, doomed_by_moderator]

    response = await client.delete(channel.url(f"/chat/{doomed_by_moderator}"), headers=channel.moderator.headers)
    assert response.status_code == 204, response.text
    assert [m["id"] for m in await _history(client, channel.stream_id)] == [kept]

    # Gone means gone: a second delete finds nothing.
    assert_error(
        await client.delete(channel.url(f"/chat/{doomed_by_creator}"), headers=channel.creator.headers),
        404,
        "MESSAGE_NOT_FOUND",
    )


async def test_delete_message_refusals(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    message = await _send(app, channel.stream_id, channel.viewer, "mine")
    url = channel.url(f"/chat/{message}")
    # Not even the author may delete their own message: moderation is for the creator and moderators.
    assert_error(await client.delete(url, headers=channel.viewer.headers), 403, "FORBIDDEN")
    assert_error(await client.delete(url, headers=channel.other.headers), 403, "FORBIDDEN")
    assert_error(await client.delete(url), 401, "INVALID_TOKEN")
    assert_error(await client.delete(url, headers=bearer("not.a.token")), 401, "INVALID_TOKEN")
    assert_error(
        await client.delete(channel.url(f"/chat/{uuid.uuid4()}"), headers=channel.creator.headers),
        404,
        "MESSAGE_NOT_FOUND",
    )
    assert_error(
        await client.delete(f"/api/streams/{UNKNOWN}/chat/{message}", headers=channel.creator.headers),
        404,
        "STREAM_NOT_FOUND",
    )
    for bad in ("bad_id", "bad!id", "x" * 65, "%20"):
        body = assert_error(
            await client.delete(channel.url(f"/chat/{bad}"), headers=channel.creator.headers), 400, "VALIDATION_ERROR"
        )
        assert "message_id" in body["fields"], bad
    assert_error(
        await client.delete(f"/api/streams/not-a-uuid/chat/{message}", headers=channel.creator.headers),
        400,
        "VALIDATION_ERROR",
    )
    # The message on another creator's stream cannot be reached through this one.
    elsewhere = await _channel(app, client)
    assert_error(
        await client.delete(elsewhere.url(f"/chat/{message}"), headers=elsewhere.creator.headers),
        404,
        "MESSAGE_NOT_FOUND",
    )
    # The refused deletes left the message alone.
    assert [m["id"] for m in await _history(client, channel.stream_id)] == [message]


# --- Bans ------------------------------------------------------------------------------------------


async def test_permanent_ban(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    before = datetime.now(UTC)
    response = await client.post(
        channel.url("/bans"), json={"user_id": channel.viewer.id, "reason": "  spam  "}, headers=channel.creator.headers
    )
    assert response.status_code == 201, response.text
    ban = response.json()
    assert ban["user_id"] == channel.viewer.id
    assert ban["username"] == channel.viewer.user["username"]
    assert ban["display_name"] is None
    assert ban["reason"] == "spam"
    assert ban["expires_at"] is None
    assert before - timedelta(seconds=1) <= _when(ban["created_at"]) <= datetime.now(UTC) + timedelta(seconds=1)
    assert [b["user_id"] for b in await _bans(client, channel)] == [channel.viewer.id]
    with pytest.raises(errors.Banned) as refused:
        await _send(app, channel.stream_id, channel.viewer, "let me back in")
    assert refused.value.code == "BANNED"
    assert refused.value.status_code == 403
    assert "until" not in refused.value.extra
    # Others still chat.
    await _send(app, channel.stream_id, channel.other, "still here")


async def test_timeout_carries_its_end(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    response = await client.post(
        channel.url("/bans"),
        json={"user_id": channel.viewer.id, "duration_seconds": 600},
        headers=channel.moderator.headers,
    )
    assert response.status_code == 201, response.text
    ban = response.json()
    assert ban["reason"] is None
    expires = _when(ban["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(seconds=600))) < timedelta(seconds=10)
    assert abs(expires - _when(ban["created_at"]) - timedelta(seconds=600)) < timedelta(seconds=1)
    listed = await _bans(client, channel)
    assert [b["user_id"] for b in listed] == [channel.viewer.id]
    assert abs(_when(listed[0]["expires_at"]) - expires) < timedelta(milliseconds=1)
    with pytest.raises(errors.Banned) as refused:
        await _send(app, channel.stream_id, channel.viewer, "hello?")
    assert refused.value.code == "BANNED"
    assert abs(_when(refused.value.extra["until"]) - expires) < timedelta(milliseconds=1)


async def test_longest_timeout_is_fourteen_days(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    assert MAX_TIMEOUT_SECONDS == 1209600
    response = await client.post(
        channel.url("/bans"),
        json={"user_id": channel.viewer.id, "duration_seconds": 1209600},
        headers=channel.creator.headers,
    )
    assert response.status_code == 201, response.text
    expires = _when(response.json()["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=14))) < timedelta(seconds=10)


async def test_banning_again_replaces_the_ban(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    url = channel.url("/bans")
    first = await client.post(
        url, json={"user_id": channel.viewer.id, "reason": "rude"}, headers=channel.moderator.headers
    )
    assert first.status_code == 201, first.text
    second = await client.post(
        url, json={"user_id": channel.viewer.id, "duration_seconds": 60}, headers=channel.creator.headers
    )
    assert second.status_code == 201, second.text
    listed = await _bans(client, channel)
    assert len(listed) == 1
    assert listed[0]["user_id"] == channel.viewer.id
    assert listed[0]["reason"] is None
    assert listed[0]["expires_at"] is not None
    assert _when(listed[0]["created_at"]) >= _when(first.json()["created_at"])
    # And back to permanent.
    third = await client.post(url, json={"user_id": channel.viewer.id}, headers=channel.creator.headers)
    assert third.status_code == 201, third.text
    listed = await _bans(client, channel)
    assert len(listed) == 1
    assert listed[0]["expires_at"] is None


@pytest.mark.parametrize(
    "payload",
    [
        {"duration_seconds": 0},
        {"duration_seconds": -5},
        {"duration_seconds": 1209601},
        {"duration_seconds": "soon"},
        {"reason": "r" * 201},
        {"reason": "nul\u0000"},
        {"extra": 1},
    ],
    ids=["zero", "negative", "over-14-days", "string", "long-reason", "nul-reason", "unknown-field"],
)
async def test_ban_rejects_bad_input(app: FastAPI, client: httpx.AsyncClient, payload: dict[str, Any]) -> None:
    channel = await _channel(app, client)
    body = {"user_id": channel.viewer.id, **payload}
    assert_error(
        await client.post(channel.url("/bans"), json=body, headers=channel.creator.headers), 400, "VALIDATION_ERROR"
    )
    assert await _bans(client, channel) == []


async def test_ban_rejects_missing_or_malformed_user(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    url = channel.url("/bans")
    for body in ({}, {"user_id": "nobody"}):
        assert_error(await client.post(url, json=body, headers=channel.creator.headers), 400, "VALIDATION_ERROR")
    malformed = await client.post(
        url, content=b"{", headers={**channel.creator.headers, "Content-Type": "application/json"}
    )
    assert_error(malformed, 400, "INVALID_JSON")
    assert_error(
        await client.post(
            "/api/streams/not-a-uuid/bans", json={"user_id": channel.viewer.id}, headers=channel.creator.headers
        ),
        400,
        "VALIDATION_ERROR",
    )


async def test_who_cannot_be_banned(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    url = channel.url("/bans")
    creator, moderator = channel.creator, channel.moderator
    # Nobody bans the creator, and nobody bans themself.
    assert_error(await client.post(url, json={"user_id": creator.id}, headers=moderator.headers), 400, "CANNOT_BAN")
    assert_error(await client.post(url, json={"user_id": creator.id}, headers=creator.headers), 400, "CANNOT_BAN")
    assert_error(await client.post(url, json={"user_id": moderator.id}, headers=moderator.headers), 400, "CANNOT_BAN")
    # A moderator cannot ban another moderator; the creator can.
    second = channel.other
    appointed = await client.put(channel.url(f"/moderators/{second.id}"), headers=creator.headers)
    assert appointed.status_code == 200, appointed.text
    assert_error(await client.post(url, json={"user_id": second.id}, headers=moderator.headers), 400, "CANNOT_BAN")
    assert await _bans(client, channel) == []
    banned = await client.post(url, json={"user_id": second.id}, headers=creator.headers)
    assert banned.status_code == 201, banned.text
    assert [b["user_id"] for b in await _bans(client, channel)] == [second.id]


async def test_ban_refusals(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    url = channel.url("/bans")
    assert_error(
        await client.post(url, json={"user_id": UNKNOWN}, headers=channel.creator.headers), 404, "USER_NOT_FOUND"
    )
    assert_error(
        await client.post(url, json={"user_id": channel.other.id}, headers=channel.viewer.headers), 403, "FORBIDDEN"
    )
    assert_error(await client.post(url, json={"user_id": channel.other.id}), 401, "INVALID_TOKEN")
    assert_error(
        await client.post(
            f"/api/streams/{UNKNOWN}/bans", json={"user_id": channel.other.id}, headers=channel.creator.headers
        ),
        404,
        "STREAM_NOT_FOUND",
    )
    # A creator cannot ban from someone else's chat.
    elsewhere = await _channel(app, client)
    assert_error(
        await client.post(url, json={"user_id": channel.other.id}, headers=elsewhere.creator.headers), 403, "FORBIDDEN"
    )
    assert await _bans(client, channel) == []


async def test_ban_removes_the_users_messages(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    spam = [await _send(app, channel.stream_id, channel.viewer, f"spam {i}") for i in range(2)]
    kept = await _send(app, channel.stream_id, channel.other, "hi all")
    more_spam = await _send(app, channel.stream_id, channel.viewer, "spam 2")
    assert [m["id"] for m in await _history(client, channel.stream_id)] == [*spam, kept, more_spam]
    response = await client.post(
        channel.url("/bans"),
        json={"user_id": channel.viewer.id, "duration_seconds": 30},
        headers=channel.creator.headers,
    )
    assert response.status_code == 201, response.text
    assert [m["id"] for m in await _history(client, channel.stream_id)] == [kept]


async def test_refused_ban_keeps_the_messages(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    message = await _send(app, channel.stream_id, channel.moderator, "I moderate")
    response = await client.post(
        channel.url("/bans"), json={"user_id": channel.moderator.id}, headers=channel.moderator.headers
    )
    assert_error(response, 400, "CANNOT_BAN")
    assert [m["id"] for m in await _history(client, channel.stream_id)] == [message]


async def test_ban_covers_every_stream_of_the_creator(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    banned = await client.post(
        channel.url("/bans"), json={"user_id": channel.viewer.id}, headers=channel.creator.headers
    )
    assert banned.status_code == 201, banned.text
    ended = await client.put(channel.url("/end"), headers=channel.creator.headers)
    assert ended.status_code == 200, ended.text
    again = await client.post("/api/streams", json={"title": "Second night"}, headers=channel.creator.headers)
    assert again.status_code == 201, again.text
    with pytest.raises(errors.Banned):
        await _send(app, again.json()["stream_id"], channel.viewer, "new stream, new me")
    # The moderator, too, belongs to the channel, not to one stream.
    listed = await client.get(f"/api/streams/{again.json()['stream_id']}/bans", headers=channel.moderator.headers)
    assert listed.status_code == 200, listed.text
    assert [b["user_id"] for b in listed.json()["items"]] == [channel.viewer.id]


async def test_list_bans_leaves_out_expired_timeouts(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    url = channel.url("/bans")
    for member, duration in ((channel.viewer, 1), (channel.other, 3600)):
        response = await client.post(
            url, json={"user_id": member.id, "duration_seconds": duration}, headers=channel.creator.headers
        )
        assert response.status_code == 201, response.text
    assert {b["user_id"] for b in await _bans(client, channel)} == {channel.viewer.id, channel.other.id}
    # Let the short timeout run out without waiting for it.
    async with container(app).db.sessionmaker() as session:
        ban = await session.get(ChatBan, (uuid.UUID(channel.creator.id), uuid.UUID(channel.viewer.id)))
        assert ban is not None
        ban.expires_at = utcnow() - timedelta(seconds=1)
        await session.commit()
    assert [b["user_id"] for b in await _bans(client, channel)] == [channel.other.id]
    # An expired timeout no longer keeps the user out.
    assert await _send(app, channel.stream_id, channel.viewer, "back again")
    listed_by_moderator = await client.get(url, headers=channel.moderator.headers)
    assert [b["user_id"] for b in listed_by_moderator.json()["items"]] == [channel.other.id]


async def test_a_one_second_timeout_runs_out(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    response = await client.post(
        channel.url("/bans"),
        json={"user_id": channel.viewer.id, "duration_seconds": 1},
        headers=channel.creator.headers,
    )
    assert response.status_code == 201, response.text
    with pytest.raises(errors.Banned):
        await _send(app, channel.stream_id, channel.viewer, "too soon")
    await asyncio.sleep(1.1)
    assert await _bans(client, channel) == []
    await _send(app, channel.stream_id, channel.viewer, "on time")


async def test_list_bans_refusals(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    url = channel.url("/bans")
    assert_error(await client.get(url, headers=channel.viewer.headers), 403, "FORBIDDEN")
    assert_error(await client.get(url), 401, "INVALID_TOKEN")
    assert_error(
        await client.get(f"/api/streams/{UNKNOWN}/bans", headers=channel.creator.headers), 404, "STREAM_NOT_FOUND"
    )
    assert_error(
        await client.get("/api/streams/not-a-uuid/bans", headers=channel.creator.headers), 400, "VALIDATION_ERROR"
    )


async def test_unban(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    for member in (channel.viewer, channel.other):
        banned = await client.post(channel.url("/bans"), json={"user_id": member.id}, headers=channel.creator.headers)
        assert banned.status_code == 201, banned.text
    url = channel.url(f"/bans/{channel.viewer.id}")
    assert_error(await client.delete(url, headers=channel.other.headers), 403, "FORBIDDEN")
    assert_error(await client.delete(url), 401, "INVALID_TOKEN")
    assert_error(
        await client.delete(f"/api/streams/{UNKNOWN}/bans/{channel.viewer.id}", headers=channel.creator.headers),
        404,
        "STREAM_NOT_FOUND",
    )
    assert_error(
        await client.delete(channel.url("/bans/not-a-uuid"), headers=channel.creator.headers), 400, "VALIDATION_ERROR"
    )
    response = await client.delete(url, headers=channel.moderator.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert [b["user_id"] for b in await _bans(client, channel)] == [channel.other.id]
    await _send(app, channel.stream_id, channel.viewer, "thanks")
    assert_error(await client.delete(url, headers=channel.creator.headers), 404, "BAN_NOT_FOUND")
    assert_error(
        await client.delete(channel.url(f"/bans/{UNKNOWN}"), headers=channel.creator.headers), 404, "BAN_NOT_FOUND"
    )
    response = await client.delete(channel.url(f"/bans/{channel.other.id}"), headers=channel.creator.headers)
    assert response.status_code == 204, response.text
    assert await _bans(client, channel) == []


async def test_unban_after_the_timeout_ran_out_finds_no_ban(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    banned = await client.post(
        channel.url("/bans"),
        json={"user_id": channel.viewer.id, "duration_seconds": 60},
        headers=channel.creator.headers,
    )
    assert banned.status_code == 201, banned.text
    async with container(app).db.sessionmaker() as session:
        ban = await session.get(ChatBan, (uuid.UUID(channel.creator.id), uuid.UUID(channel.viewer.id)))
        assert ban is not None
        ban.expires_at = utcnow() - timedelta(seconds=1)
        await session.commit()
    assert await _bans(client, channel) == []
    assert_error(
        await client.delete(channel.url(f"/bans/{channel.viewer.id}"), headers=channel.creator.headers),
        404,
        "BAN_NOT_FOUND",
    )


# --- Slow mode -------------------------------------------------------------------------------------


async def _stored_slow_mode(app: FastAPI, stream_id: str) -> int:
    async with container(app).db.sessionmaker() as session:
        stream = await StreamRepository(session).get(uuid.UUID(stream_id))
        assert stream is not None
        return stream.slow_mode_seconds


@pytest.mark.parametrize("seconds", [0, 3, 120])
async def test_slow_mode_accepts_zero_and_three_to_120(app: FastAPI, client: httpx.AsyncClient, seconds: int) -> None:
    channel = await _channel(app, client)
    # Start from a different value so the change shows.
    start = 60
    first = await client.put(
        channel.url("/chat-settings"), json={"slow_mode_seconds": start}, headers=channel.creator.headers
    )
    assert first.status_code == 200, first.text
    response = await client.put(
        channel.url("/chat-settings"), json={"slow_mode_seconds": seconds}, headers=channel.creator.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"slow_mode_seconds": seconds}
    assert await _stored_slow_mode(app, channel.stream_id) == seconds


@pytest.mark.parametrize("value", [1, 2, 121, -1, "fast", None, 3.5])
async def test_slow_mode_rejects_other_values(app: FastAPI, client: httpx.AsyncClient, value: object) -> None:
    channel = await _channel(app, client)
    response = await client.put(
        channel.url("/chat-settings"), json={"slow_mode_seconds": value}, headers=channel.creator.headers
    )
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "slow_mode_seconds" in str(body["fields"])
    assert await _stored_slow_mode(app, channel.stream_id) == 0


async def test_slow_mode_rejects_bad_bodies(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    url = channel.url("/chat-settings")
    for payload in ({}, {"slow_mode_seconds": 5, "extra": True}):
        assert_error(await client.put(url, json=payload, headers=channel.creator.headers), 400, "VALIDATION_ERROR")
    assert_error(
        await client.put(url, content=b"{", headers={**channel.creator.headers, "Content-Type": "application/json"}),
        400,
        "INVALID_JSON",
    )
    assert await _stored_slow_mode(app, channel.stream_id) == 0


async def test_slow_mode_is_for_the_creator_and_moderators(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    url = channel.url("/chat-settings")
    by_moderator = await client.put(url, json={"slow_mode_seconds": 10}, headers=channel.moderator.headers)
    assert by_moderator.status_code == 200, by_moderator.text
    assert await _stored_slow_mode(app, channel.stream_id) == 10
    assert_error(await client.put(url, json={"slow_mode_seconds": 0}, headers=channel.viewer.headers), 403, "FORBIDDEN")
    assert_error(await client.put(url, json={"slow_mode_seconds": 0}), 401, "INVALID_TOKEN")
    assert_error(
        await client.put(
            f"/api/streams/{UNKNOWN}/chat-settings", json={"slow_mode_seconds": 0}, headers=channel.creator.headers
        ),
        404,
        "STREAM_NOT_FOUND",
    )
    assert_error(
        await client.put(
            "/api/streams/not-a-uuid/chat-settings", json={"slow_mode_seconds": 0}, headers=channel.creator.headers
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert await _stored_slow_mode(app, channel.stream_id) == 10


async def test_slow_mode_leaves_the_stream_otherwise_unchanged(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    before = (await client.get(channel.url())).json()
    response = await client.put(
        channel.url("/chat-settings"), json={"slow_mode_seconds": 30}, headers=channel.creator.headers
    )
    assert response.status_code == 200, response.text
    after = (await client.get(channel.url())).json()
    assert after == before
    assert "slow_mode_seconds" not in after


async def test_slow_mode_after_the_end(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    ended = await client.put(channel.url("/end"), headers=channel.creator.headers)
    assert ended.status_code == 200, ended.text
    for member in (channel.creator, channel.moderator):
        assert_error(
            await client.put(channel.url("/chat-settings"), json={"slow_mode_seconds": 5}, headers=member.headers),
            409,
            "STREAM_ENDED",
        )
    assert await _stored_slow_mode(app, channel.stream_id) == 0
    # The chat of an ended stream is read-only, and still readable.
    with pytest.raises(StreamEnded) as refused:
        await _send(app, channel.stream_id, channel.viewer, "late")
    assert refused.value.code == "STREAM_ENDED"
    assert await _history(client, channel.stream_id) == []


# --- Moderators ------------------------------------------------------------------------------------


async def _moderator_ids(client: httpx.AsyncClient, channel: Channel) -> list[str]:
    response = await client.get(channel.url("/moderators"), headers=channel.creator.headers)
    assert response.status_code == 200, response.text
    return [m["user_id"] for m in response.json()["items"]]


async def test_appoint_moderators(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    url = channel.url(f"/moderators/{channel.other.id}")
    first = await client.put(url, headers=channel.creator.headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["user_id"] == channel.other.id
    assert body["username"] == channel.other.user["username"]
    assert body["display_name"] is None
    again = await client.put(url, headers=channel.creator.headers)
    assert again.status_code == 200, again.text
    assert again.json() == body  # idempotent: the same appointment, not a new one
    assert await _moderator_ids(client, channel) == [channel.moderator.id, channel.other.id]
    listed = (await client.get(channel.url("/moderators"), headers=channel.creator.headers)).json()["items"]
    assert listed[1] == body
    # The appointment carries moderation rights at once.
    message = await _send(app, channel.stream_id, channel.viewer, "spam")
    deleted = await client.delete(channel.url(f"/chat/{message}"), headers=channel.other.headers)
    assert deleted.status_code == 204, deleted.text


async def test_moderators_are_the_creators_business(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    target = channel.other.id
    for member in (channel.moderator, channel.viewer):
        assert_error(await client.get(channel.url("/moderators"), headers=member.headers), 403, "FORBIDDEN")
        assert_error(await client.put(channel.url(f"/moderators/{target}"), headers=member.headers), 403, "FORBIDDEN")
        assert_error(
            await client.delete(channel.url(f"/moderators/{channel.moderator.id}"), headers=member.headers),
            403,
            "FORBIDDEN",
        )
    assert_error(await client.get(channel.url("/moderators")), 401, "INVALID_TOKEN")
    assert_error(await client.put(channel.url(f"/moderators/{target}")), 401, "INVALID_TOKEN")
    assert_error(await client.delete(channel.url(f"/moderators/{channel.moderator.id}")), 401, "INVALID_TOKEN")
    assert await _moderator_ids(client, channel) == [channel.moderator.id]


async def test_moderator_refusals(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    creator = channel.creator
    assert_error(
        await client.put(channel.url(f"/moderators/{creator.id}"), headers=creator.headers), 400, "INVALID_MODERATOR"
    )
    assert_error(
        await client.put(channel.url(f"/moderators/{UNKNOWN}"), headers=creator.headers), 404, "USER_NOT_FOUND"
    )
    assert_error(
        await client.put(channel.url("/moderators/not-a-uuid"), headers=creator.headers), 400, "VALIDATION_ERROR"
    )
    for method in ("GET", "PUT", "DELETE"):
        suffix = "/moderators" if method == "GET" else f"/moderators/{channel.other.id}"
        assert_error(
            await client.request(method, f"/api/streams/{UNKNOWN}{suffix}", headers=creator.headers),
            404,
            "STREAM_NOT_FOUND",
        )
        assert_error(
            await client.request(method, f"/api/streams/not-a-uuid{suffix}", headers=creator.headers),
            400,
            "VALIDATION_ERROR",
        )
    assert await _moderator_ids(client, channel) == [channel.moderator.id]


async def test_remove_moderator(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    url = channel.url(f"/moderators/{channel.moderator.id}")
    message = await _send(app, channel.stream_id, channel.viewer, "borderline")
    response = await client.delete(url, headers=channel.creator.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert await _moderator_ids(client, channel) == []
    assert_error(await client.delete(url, headers=channel.creator.headers), 404, "MODERATOR_NOT_FOUND")
    assert_error(
        await client.delete(channel.url(f"/moderators/{channel.viewer.id}"), headers=channel.creator.headers),
        404,
        "MODERATOR_NOT_FOUND",
    )
    # A removed moderator loses every moderation right at once.
    former = channel.moderator.headers
    assert_error(await client.delete(channel.url(f"/chat/{message}"), headers=former), 403, "FORBIDDEN")
    assert_error(
        await client.post(channel.url("/bans"), json={"user_id": channel.viewer.id}, headers=former), 403, "FORBIDDEN"
    )
    assert_error(await client.get(channel.url("/bans"), headers=former), 403, "FORBIDDEN")
    assert_error(
        await client.put(channel.url("/chat-settings"), json={"slow_mode_seconds": 5}, headers=former), 403, "FORBIDDEN"
    )
    assert [m["id"] for m in await _history(client, channel.stream_id)] == [message]


async def test_moderators_belong_to_the_creators_channel(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    elsewhere = await _channel(app, client)
    # channel.moderator moderates channel.creator's chat only.
    message = await _send(app, elsewhere.stream_id, elsewhere.viewer, "not yours to delete")
    assert_error(
        await client.delete(elsewhere.url(f"/chat/{message}"), headers=channel.moderator.headers), 403, "FORBIDDEN"
    )
    assert await _moderator_ids(client, elsewhere) == [elsewhere.moderator.id]


# --- Viewer count ----------------------------------------------------------------------------------


async def _present(app: FastAPI, stream_id: str, *entries: tuple[str, str]) -> None:
    engine = container(app).engine
    await engine.presence_refresh(
        channel_of(uuid.UUID(stream_id)), [PresenceEntry(connection_id=c, member=m) for c, m in entries], 60
    )


async def _viewer_count(client: httpx.AsyncClient, stream_id: str) -> int:
    response = await client.get(f"/api/streams/{stream_id}")
    assert response.status_code == 200, response.text
    count: int = response.json()["viewer_count"]
    return count


async def test_live_viewer_count_is_the_presence(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    assert await _viewer_count(client, channel.stream_id) == 0
    await _present(app, channel.stream_id, ("c1", "u:alice"), ("c2", "u:alice"), ("c3", "a:browser1"))
    assert await _viewer_count(client, channel.stream_id) == 2  # two tabs of one user count once
    await _present(app, channel.stream_id, ("c4", "u:bob"))
    assert await _viewer_count(client, channel.stream_id) == 3
    listed = (await client.get("/api/streams", params={"status": "live"})).json()["items"]
    assert {s["stream_id"]: s["viewer_count"] for s in listed}[channel.stream_id] == 3
    # Another stream's viewers are its own.
    elsewhere = await _channel(app, client)
    assert await _viewer_count(client, elsewhere.stream_id) == 0
    await container(app).engine.presence_remove(channel_of(uuid.UUID(channel.stream_id)), ["c1", "c4"])
    assert await _viewer_count(client, channel.stream_id) == 2  # alice still has c2


async def test_ended_stream_keeps_its_peak(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    entries = [("c1", "u:a"), ("c2", "u:a"), ("c3", "u:b"), ("c4", "a:x"), ("c5", "a:y")]
    await _present(app, channel.stream_id, *entries)
    assert await _viewer_count(client, channel.stream_id) == 4
    engine = container(app).engine
    topic = channel_of(uuid.UUID(channel.stream_id))
    await engine.presence_remove(topic, ["c3", "c4", "c5"])
    assert await _viewer_count(client, channel.stream_id) == 1
    ended = await client.put(channel.url("/end"), headers=channel.creator.headers)
    assert ended.status_code == 200, ended.text
    assert ended.json()["viewer_count"] == 4
    assert await _viewer_count(client, channel.stream_id) == 4
    # The peak is in the database now; the engine has forgotten the channel, peak included.
    assert await engine.presence_count(topic) == PresenceCount(count=0, peak=0)
    assert await _viewer_count(client, channel.stream_id) == 4
    listed = (await client.get("/api/streams", params={"status": "ended"})).json()["items"]
    assert [s["viewer_count"] for s in listed if s["stream_id"] == channel.stream_id] == [4]


async def test_peak_counts_the_viewers_present_at_the_end(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    await _present(app, channel.stream_id, ("c1", "u:a"), ("c2", "u:b"), ("c3", "u:b"))
    # Nobody asked for the count before the end: the end itself must see the two viewers.
    ended = await client.put(channel.url("/end"), headers=channel.creator.headers)
    assert ended.status_code == 200, ended.text
    assert await _viewer_count(client, channel.stream_id) == 2


async def test_ended_stream_without_viewers_has_zero(app: FastAPI, client: httpx.AsyncClient) -> None:
    channel = await _channel(app, client)
    ended = await client.put(channel.url("/end"), headers=channel.creator.headers)
    assert ended.status_code == 200, ended.text
    assert await _viewer_count(client, channel.stream_id) == 0


async def test_a_committed_ban_is_answered_as_done_when_the_purge_fails(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The purge of the banned user's messages runs after the commit; the engine (Redis) failing there is logged,
    and the creator is told the truth: the ban holds."""
    channel = await _channel(app, client)
    engine = container(app).engine

    async def engine_down(*_: object, **__: object) -> list[str]:
        raise ConnectionError("Redis went away")

    monkeypatch.setattr(engine, "history", engine_down)
    response = await client.post(
        channel.url("/bans"), json={"user_id": channel.viewer.id}, headers=channel.creator.headers
    )
    assert response.status_code == 201, response.text
    monkeypatch.undo()
    assert [b["user_id"] for b in await _bans(client, channel)] == [channel.viewer.id]
