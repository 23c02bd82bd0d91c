"""Text in chat frames (issue 7): a lone surrogate or NUL gets the socket's error frame, never a crash; bidi
overrides and other spoofing characters never reach the other viewers. Runs on a real server (uvicorn)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from livestream.chat.service import clean_text
from livestream.errors import ValidationFailed
from tests.support.chat_clients import Account, Frame, Viewer, make_account, open_stream
from tests.support.live_server import LiveServer, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("chat-text"), LS_RTMP_ENABLED="false")
    try:
        yield live
    finally:
        live.stop()


async def _raw(viewer: Viewer, text: str) -> Frame:
    """Send a frame as raw JSON text (a lone surrogate cannot be encoded by the client) and return the answer."""
    mark = len(viewer.frames)
    await viewer.socket.send(text)
    return await viewer.wait_for(lambda f: f["type"] in ("error", "chat.ack", "auth.ok", "pong"), after=mark)


async def test_unstorable_text_in_any_frame_gets_a_validation_error_and_the_socket_goes_on(
    api: httpx.AsyncClient, ws_base: str, server: LiveServer
) -> None:
    creator = await make_account(api, "host")
    stream_id = await open_stream(api, creator)
    fan = await make_account(api, "fan")
    viewer = await Viewer.connect(ws_base, stream_id)
    await viewer.auth(fan)

    error = await _raw(viewer, '{"type": "chat.send", "text": "hi \\ud800", "nonce": "n1"}')
    assert error == {
        "type": "error",
        "code": "VALIDATION_ERROR",
        "error": error["error"],
        "nonce": "n1",
        "fields": {"text": error["fields"]["text"]},
    }
    assert "surrogate" in error["error"]
    for frame, field in [
        ('{"type": "chat.send", "text": "\\u0000", "nonce": "n2"}', "text"),
        ('{"type": "chat.send", "text": "fine", "nonce": "\\udc00"}', "nonce"),
        ('{"type": "auth", "token": "\\ud83d"}', "token"),
        ('{"type": "ping", "extra": ["\\udfff"]}', "extra"),
        ('{"type": "\\ud800"}', "type"),
    ]:
        error = await _raw(viewer, frame)
        assert (error["type"], error["code"]) == ("error", "VALIDATION_ERROR"), frame
        assert list(error["fields"]) == [field], frame
    assert "nonce" not in error

    # Nothing was published, the socket is still open and still signed in, and the server logged no crash.
    assert (await _raw(viewer, '{"type": "ping"}')) == {"type": "pong"}
    ack = await viewer.chat("still here \\ud800 is just text")
    assert ack["type"] == "chat.ack"
    messages = [f for f in viewer.frames if f["type"] == "chat.message"]
    assert [m["text"] for m in messages] == ["still here \\ud800 is just text"]
    # A valid surrogate *pair* (as escaping encoders write emoji) is ordinary text.
    ack = await _raw(viewer, '{"type": "chat.send", "text": "gg \\ud83c\\udfae", "nonce": "pair"}')
    assert ack["type"] == "chat.ack"
    message = await viewer.wait_for(lambda f: f["type"] == "chat.message" and f["id"] == ack["id"])
    assert message["text"] == "gg 🎮"
    await viewer.close()
    assert "ws_frame_failed" not in server.log()
    assert "Traceback" not in server.log()


async def test_spoofing_characters_never_reach_other_viewers(api: httpx.AsyncClient, ws_base: str) -> None:
    creator = await make_account(api, "host")
    stream_id = await open_stream(api, creator)
    fan: Account = await make_account(api, "fan")
    sender = await Viewer.connect(ws_base, stream_id)
    watcher = await Viewer.connect(ws_base, stream_id)
    await sender.auth(fan)

    ack = await sender.chat("gg \u202eplugh\u202c \u2066wp\u2069\u200b 👩\u200d💻")
    assert ack["type"] == "chat.ack"
    message = await watcher.wait_for(lambda f: f["type"] == "chat.message")
    assert message["text"] == "gg plugh wp 👩\u200d💻"
    assert (await sender.chat("\u202e\u2066\u200b \u2069"))["code"] == "EMPTY_MESSAGE"
    history = (await api.get(f"/api/streams/{stream_id}/chat")).json()["items"]
    assert [m["text"] for m in history] == ["gg plugh wp 👩\u200d💻"]
    for viewer in (sender, watcher):
        await viewer.close()


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "nul\x00"])
def test_clean_text_refuses_unstorable_text(text: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        clean_text(text)
    assert refused.value.code == "VALIDATION_ERROR"
    assert "text" in refused.value.extra["fields"]


def test_clean_text_drops_spoofing_characters_and_keeps_one_line() -> None:
    assert clean_text("  a\u202eb\u2067c\u2069\n d\u2028e\x07 ") == "abc  d e"
    assert clean_text("שלום\u200f!") == "שלום\u200f!"
