"""The chat socket under a server without the raw fan-out extension (plain ASGI sends through a queue)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.websockets import WebSocketDisconnect

from livestream.config import Settings
from tests.api.helpers import PASSWORD

with warnings.catch_warnings():
    # Starlette 1.x prefers the httpx2 package for its test client; httpx works and is what we ship.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    from livestream.app.factory import create_app

    app: FastAPI = create_app(settings)
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def _signed_up(client: TestClient, username: str) -> tuple[str, str]:
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    assert client.post("/api/auth/register", json=body).status_code == 201
    login = client.post("/api/auth/login", json={"login": username, "password": PASSWORD}).json()
    return login["user"]["user_id"], login["access_token"]


def _next(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        frame = json.loads(ws.receive_text())
        if frame["type"] == kind:
            return frame  # type: ignore[no-any-return]


def test_chat_round_trip_without_the_raw_socket(client: TestClient) -> None:
    user_id, token = _signed_up(client, "asgi_host")
    stream = client.post("/api/streams", json={"title": "ASGI"}, headers={"Authorization": f"Bearer {token}"}).json()
    path = f"/ws/streams/{stream['stream_id']}"
    with client.websocket_connect(path) as host, client.websocket_connect(path) as viewer:
        assert _next(host, "hello")["viewer_count"] >= 1
        assert _next(viewer, "hello")["history"] == []
        host.send_text(json.dumps({"type": "auth", "token": token}))
        assert _next(host, "auth.ok")["role"] == "creator"
        host.send_text(json.dumps({"type": "chat.send", "text": "<b>plain</b>", "nonce": "a"}))
        message = _next(viewer, "chat.message")
        assert message["text"] == "<b>plain</b>"
        assert message["user"]["user_id"] == user_id
        assert _next(host, "chat.ack")["id"] == message["id"]
        viewer.send_text(json.dumps({"type": "ping"}))
        assert _next(viewer, "pong") == {"type": "pong"}
        # Without uvicorn's frame limit, the gateway enforces 4 KiB itself.
        viewer.send_text("x" * 4097)
        with pytest.raises(WebSocketDisconnect) as closed:
            viewer.receive_text()
        assert closed.value.code == 1009


def test_origin_checked_before_the_handshake(client: TestClient) -> None:
    _, token = _signed_up(client, "asgi_origin")
    stream = client.post("/api/streams", json={"title": "O"}, headers={"Authorization": f"Bearer {token}"}).json()
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(f"/ws/streams/{stream['stream_id']}", headers={"Origin": "https://elsewhere.example"}),
    ):
        pass
    assert refused.value.code == 1008
    with client.websocket_connect(
        f"/ws/streams/{stream['stream_id']}", headers={"Origin": "http://testserver"}
    ) as same_origin:
        assert _next(same_origin, "hello")["stream_id"] == stream["stream_id"]


def test_lone_surrogate_frame_in_process_is_refused_not_crashed(client: TestClient) -> None:
    """An in-process client can hand the gateway text no wire could carry; it is refused, the socket goes on."""
    _, token = _signed_up(client, "asgi_surrogate")
    stream = client.post("/api/streams", json={"title": "S"}, headers={"Authorization": f"Bearer {token}"}).json()
    with client.websocket_connect(f"/ws/streams/{stream['stream_id']}") as ws:
        _next(ws, "hello")
        ws.send_text('{"type": "chat.send", "text": "\ud800", "nonce": "n"}')
        assert _next(ws, "error")["code"] == "VALIDATION_ERROR"
        ws.send_text(json.dumps({"type": "ping"}))
        assert _next(ws, "pong") == {"type": "pong"}
