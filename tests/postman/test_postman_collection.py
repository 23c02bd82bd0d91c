"""The Postman collection: newman runs it against a real server, and it must cover the whole OpenAPI.

Request names in the collection start with the HTTP status they expect ("409 USERNAME_TAKEN ..."); the
coverage test below reads them to check that every operation has a success case and a case for each
error status it documents.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.support.live_server import ROOT, LiveServer

POSTMAN_DIR = ROOT / "postman"
COLLECTION = POSTMAN_DIR / "livestream.postman_collection.json"
NEWMAN = POSTMAN_DIR / "node_modules" / ".bin" / "newman"
BASE_URL_VAR = "{{baseUrl}}"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
NAME_STATUS = re.compile(r"^(\d{3}) ")

# Documented responses that no request against a healthy test server can produce.
UNREACHABLE: dict[tuple[str, str, int], str] = {
    ("GET", "/readyz", 503): "needs an unreachable database",
    ("GET", "/api/users/me", 400): "takes no parameters or body that could be invalid",
    ("GET", "/api/users/me/stream-key", 400): "takes no parameters or body that could be invalid",
    ("POST", "/api/users/me/stream-key/rotate", 400): "takes no parameters or body; a body, even malformed, is ignored",
}

# What the transcoder leaves in a live stream's folder (media/ffmpeg.py HlsLayout), small enough to write by hand.
SEEDED_FILES: dict[str, bytes] = {
    "master.m3u8": b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nv0/index.m3u8\n",
    "v0/index.m3u8": (
        b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:1.000000,\nseg_0.ts\n"
    ),
    "v0/seg_0.ts": (b"\x47" + bytes(187)) * 4,  # four empty MPEG-TS packets
    "x.exe": b"MZ",  # on disk, but not a media type: the origin must refuse it
}


# The chat message tests/postman sends on the seeded stream; the collection checks it comes back verbatim.
SEEDED_CHAT_TEXT = "Seeded <img src=x onerror=alert(1)> message"


@dataclass(frozen=True)
class SeededStream:
    stream_id: str
    token: str


@pytest.fixture(scope="module")
def seeded_stream(live_server: LiveServer) -> SeededStream:
    """A live stream with HLS files on disk, for the origin's success cases.

    newman cannot publish RTMP, so a creator goes live through the API here and the files are written where the
    transcoder would put them; the collection reads them through /hls and ends the stream (hlsStreamId, hlsToken).
    """
    name = f"pmseed_{secrets.token_hex(4)}"
    password = "correct horse battery staple"
    with httpx.Client(base_url=live_server.base_url, timeout=10) as api:
        registered = api.post(
            "/api/auth/register", json={"username": name, "email": f"{name}@example.com", "password": password}
        )
        assert registered.status_code == 201, registered.text
        login = api.post("/api/auth/login", json={"login": name, "password": password})
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        created = api.post(
            "/api/streams", json={"title": "Seeded test pattern"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert created.status_code == 201, created.text
        stream_id = created.json()["stream_id"]
    folder = Path(live_server.env["LS_MEDIA_DIR"]) / "live" / stream_id
    for relative, content in SEEDED_FILES.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return SeededStream(stream_id=stream_id, token=token)


def _seed_chat_message(live_server: LiveServer, seeded: SeededStream) -> str:
    """Send one chat message on the seeded stream as its creator; returns its id (chatMessageId).

    newman cannot open a WebSocket, and no REST request creates a message, so the collection's requests about a
    real message (history, delete) need one sent here. Sent just before newman runs: history keeps 5 minutes.
    """
    url = live_server.base_url.replace("http://", "ws://", 1) + f"/ws/streams/{seeded.stream_id}"

    def until(socket: ClientConnection, kind: str) -> dict[str, Any]:
        while True:
            frame: dict[str, Any] = json.loads(socket.recv(timeout=10))
            assert frame["type"] in (kind, "viewers", "chat.message"), frame
            if frame["type"] == kind:
                return frame

    with connect(url, open_timeout=10) as socket:
        until(socket, "hello")
        socket.send(json.dumps({"type": "auth", "token": seeded.token}))
        until(socket, "auth.ok")
        socket.send(json.dumps({"type": "chat.send", "text": SEEDED_CHAT_TEXT, "nonce": "seed"}))
        ack = until(socket, "chat.ack")
    assert ack["nonce"] == "seed", ack
    message_id: str = ack["id"]
    return message_id


def _ensure_newman() -> None:
    if NEWMAN.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to install newman (postman/package.json); install Node.js")
    try:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=POSTMAN_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"npm ci in postman/ timed out:\n{_text(exc.stdout)}\n{_text(exc.stderr)}")
    assert result.returncode == 0, f"npm ci in postman/ failed:\n{result.stdout}\n{result.stderr}"
    assert NEWMAN.exists(), "npm ci did not install newman"


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def _collection() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(COLLECTION.read_text())
    return data


def _requests(items: list[dict[str, Any]], folder: str = "") -> Iterator[tuple[str, dict[str, Any], str]]:
    """(full name, request, test script) of every request, in collection order."""
    for item in items:
        name = f"{folder}/{item['name']}" if folder else item["name"]
        if "item" in item:
            yield from _requests(item["item"], name)
            continue
        script = "\n".join(
            "\n".join(event["script"]["exec"]) for event in item.get("event", []) if event["listen"] == "test"
        )
        yield name, item["request"], script


def _raw_url(request: dict[str, Any]) -> str:
    url = request["url"]
    return str(url if isinstance(url, str) else url["raw"])


def _match(path: str, templates: list[str]) -> str | None:
    """The OpenAPI path template the server routes ``path`` to: the one with most literal segments."""
    segments = path.strip("/").split("/")
    best: tuple[int, str] | None = None
    for template in templates:
        parts = template.strip("/").split("/")
        if len(parts) != len(segments):
            continue
        literal = [p for p in parts if not (p.startswith("{") and p.endswith("}"))]
        fits = all(p == s or (p.startswith("{") and p.endswith("}")) for p, s in zip(parts, segments, strict=True))
        if fits and (best is None or len(literal) > best[0]):
            best = (len(literal), template)
    return best[1] if best else None


def test_newman_runs_collection(live_server: LiveServer, seeded_stream: SeededStream) -> None:
    _ensure_newman()
    chat_message_id = _seed_chat_message(live_server, seeded_stream)
    command = [
        str(NEWMAN),
        "run",
        str(COLLECTION),
        "--env-var",
        f"baseUrl={live_server.base_url}",
        "--env-var",
        f"hlsStreamId={seeded_stream.stream_id}",
        "--env-var",
        f"hlsToken={seeded_stream.token}",
        "--env-var",
        f"chatMessageId={chat_message_id}",
        "--reporters",
        "cli",
        "--bail",
        "--color",
        "off",
        "--timeout-request",
        "30000",
    ]
    env = {**os.environ, "FORCE_COLOR": "0", "NO_COLOR": "1"}
    try:
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"newman timed out:\n{_text(exc.stdout)}\n{_text(exc.stderr)}\n"
            f"--- server log (tail) ---\n{live_server.log()[-8000:]}"
        )
    output = f"{result.stdout}\n{result.stderr}"
    if result.returncode != 0:
        print(output)
        print("--- server log (tail) ---\n" + live_server.log()[-8000:])
    assert result.returncode == 0, f"newman exited with {result.returncode}:\n{output}"
    # The requests on the seeded stream skip themselves without hlsStreamId; here they must have run.
    assert "skipped" not in output, output
    assert "served as an HLS playlist" in output, output
    assert "the seeded message, markup and all" in output, output


def test_collection_covers_every_operation(live_server: LiveServer) -> None:
    schema = httpx.get(f"{live_server.base_url}/openapi.json", timeout=10).json()
    documented: dict[tuple[str, str], set[int]] = {
        (method.upper(), path): {int(code) for code in operation.get("responses", {}) if code.isdigit()}
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }
    templates = sorted({path for _, path in documented})

    collection = _collection()
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    exercised: dict[tuple[str, str], set[int]] = {}
    problems: list[str] = []
    for name, request, script in _requests(collection["item"]):
        raw = _raw_url(request)
        if not raw.startswith(BASE_URL_VAR + "/"):
            problems.append(f"{name}: URL {raw!r} does not start with {BASE_URL_VAR}")
            continue
        named = NAME_STATUS.match(name.rsplit("/", 1)[-1])
        if named is None:
            problems.append(f"{name}: name does not start with the expected status")
            continue
        status = int(named.group(1))
        if f"to.have.status({status})" not in script:
            problems.append(f"{name}: the test script does not assert status {status}")
        path = raw.removeprefix(BASE_URL_VAR).split("?", 1)[0]
        template = _match(path, templates)
        if template is not None:
            exercised.setdefault((request["method"].upper(), template), set()).add(status)

    for (method, path), statuses in sorted(documented.items()):
        seen = exercised.get((method, path), set())
        if not seen:
            problems.append(f"{method} {path}: no request in the collection")
            continue
        if not any(200 <= s < 300 for s in seen):
            problems.append(f"{method} {path}: no success case")
        for status in sorted(statuses - seen):
            if (method, path, status) not in UNREACHABLE:
                problems.append(f"{method} {path}: documented status {status} has no request")
    assert not problems, "Postman collection out of step with the API:\n" + "\n".join(problems)


def test_throttling_folder_is_last() -> None:
    """Failed logins are counted per client address too, so nothing may run after them."""
    items = _collection()["item"]
    assert items[-1]["name"].startswith("Throttling"), [item["name"] for item in items]
    assert not any(item["name"].startswith("Throttling") for item in items[:-1])


def test_package_pins_newman_only() -> None:
    package = json.loads((POSTMAN_DIR / "package.json").read_text())
    assert package["devDependencies"] == {"newman": "6.2.2"}
    assert "dependencies" not in package
    assert (POSTMAN_DIR / "package-lock.json").is_file()
