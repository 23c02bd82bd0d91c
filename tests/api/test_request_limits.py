"""Hostile request bodies: too large (413 before reading), nested deeper than a parser goes (INVALID_JSON)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import assert_error
from tests.support.live_server import LiveServer, start_server


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"max_body_bytes": 64 * 1024}


async def test_declared_oversized_body_is_refused(client: httpx.AsyncClient) -> None:
    body = b'{"login": "' + b"a" * (70 * 1024) + b'", "password": "xxxxxxxx"}'
    response = await client.post("/api/auth/login", content=body, headers={"content-type": "application/json"})
    error = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert "65536" in error["error"]
    assert response.headers["connection"] == "close"


async def test_chunked_oversized_body_is_refused(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"login": "'
        for _ in range(80):
            yield b"a" * 1024
        yield b'", "password": "xxxxxxxx"}'

    response = await client.post("/api/auth/login", content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


async def test_body_under_the_limit_is_read(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/login", json={"login": "nobody", "password": "x" * 60})
    assert_error(response, 401, "INVALID_CREDENTIALS")


@pytest.mark.parametrize("depth", [2_000, 10_000])
async def test_deeply_nested_body_is_invalid_json(client: httpx.AsyncClient, depth: int) -> None:
    body = b"[" * depth + b"]" * depth
    response = await client.post("/api/auth/login", content=body, headers={"content-type": "application/json"})
    assert_error(response, 400, "INVALID_JSON")
    nested = b'{"a":' * depth + b"1" + b"}" * depth
    response = await client.post("/api/auth/register", content=nested, headers={"content-type": "application/json"})
    assert_error(response, 400, "INVALID_JSON")


# --- On the real server: the connection is not read, and X-Forwarded-For is believed only when configured ---


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    env: dict[str, str] = getattr(request, "param", {})
    live = start_server(tmp_path / "server", LS_MAX_BODY_BYTES="65536", **env)
    try:
        yield live
    finally:
        live.stop()


async def test_server_answers_413_before_the_body_arrives(server: LiveServer) -> None:
    host, port = server.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        # 50 MB announced, none sent: the answer must come without waiting for it.
        writer.write(
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n{"
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        assert head.startswith(b"HTTP/1.1 413")
        assert b"connection: close" in head.lower()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _client_of_last_request(server: LiveServer, path: str) -> str:
    import json

    for line in reversed(server.log().splitlines()):
        if line.startswith("{") and f'"path": "{path}"' in line:
            client: str = json.loads(line)["client"]
            return client
    raise AssertionError(f"no access log line for {path}")


@pytest.mark.parametrize(
    ("server", "client"),
    [({}, "127.0.0.1"), ({"LS_TRUSTED_PROXIES": "127.0.0.1"}, "203.0.113.9")],
    indirect=["server"],
    ids=["no-trusted-proxy", "trusted-loopback-proxy"],
)
async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(server: LiveServer, client: str) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 200
    await asyncio.sleep(0.2)
    assert _client_of_last_request(server, "/healthz") == client
