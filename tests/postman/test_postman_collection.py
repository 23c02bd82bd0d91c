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
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url
from websockets.sync.client import ClientConnection, connect

from livestream.media import files
from livestream.notifications.unsubscribe import unsubscribe_token
from tests.postman.account_seed import seed_account_tokens
from tests.support.live_server import ROOT, LiveServer, start_server
from tests.support.recordings import record

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
    ("GET", "/api/notifications/unread-count", 400): "takes no parameters or body that could be invalid",
    ("POST", "/api/notifications/read-all", 400): "takes no parameters or body; a body, even malformed, is ignored",
    ("GET", "/api/users/me/notification-settings", 400): "takes no parameters or body that could be invalid",
    ("GET", "/api/push/vapid-public-key", 400): "takes no parameters or body that could be invalid",
    ("DELETE", "/api/archives/{archive_id}", 503): "needs unreachable archive storage",
    ("GET", "/vod/{archive_id}/{name}", 503): "needs unreachable archive storage",
    ("GET", "/vod/{archive_id}/{name}", 302): "needs S3 storage (the test server stores archives on disk)",
    ("POST", "/api/auth/verify-email/resend", 400): "takes no parameters or body; a body, even malformed, is ignored",
    ("GET", "/api/users/me/earnings.csv", 400): "takes no parameters or body that could be invalid",
    ("GET", "/api/users/me/payouts", 400): "takes no parameters or body that could be invalid",
    ("POST", "/api/users/me/payouts/onboard", 400): "takes no parameters or body; a body, even malformed, is ignored",
    # The server runs the test payment provider (LS_PAYMENTS=test), which needs no onboarding and never fails;
    # tests/tips cover these with Stripe's SDK against a local fake Stripe, and with tips off.
    ("POST", "/api/users/me/payouts/onboard", 200): "needs LS_PAYMENTS=stripe (an Express account link)",
    ("POST", "/api/users/me/payouts/onboard", 502): "needs LS_PAYMENTS=stripe and Stripe failing",
    ("POST", "/api/users/me/payouts/onboard", 503): "needs tips off (LS_PAYMENTS unset)",
    ("POST", "/api/users/me/payouts/onboard", 429): "the limit counts onboarding links, which only Stripe makes",
    ("POST", "/api/transactions", 502): "needs a payment provider that fails (the test provider never does)",
    ("POST", "/api/transactions", 503): "needs tips off (LS_PAYMENTS unset)",
    ("POST", "/api/webhooks/stripe", 503): "needs tips off, or a database failing mid-event",
}

# The server's webhook signing secret: the collection signs Stripe events with it (stripeWebhookSecret).
WEBHOOK_SECRET = "whsec_postman_" + secrets.token_hex(16)

# What the transcoder leaves in a live stream's folder (media/ffmpeg.py HlsLayout), small enough to write by hand.
SEEDED_FILES: dict[str, bytes] = {
    "master.m3u8": b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nv0/index.m3u8\n",
    "v0/index.m3u8": (
        b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:1.000000,\nseg_0.ts\n"
    ),
    "v0/seg_0.ts": (b"\x47" + bytes(187)) * 4,  # four empty MPEG-TS packets
    "x.exe": b"MZ",  # on disk, but not a media type: the origin must refuse it
}


# A kept segment as a transcoder killed mid-write can leave it: bytes, but no timestamp to measure.
TORN_SEGMENT = b"\x00" * 188 * 4

# The chat message tests/postman sends on the seeded stream; the collection checks it comes back verbatim.
SEEDED_CHAT_TEXT = "Seeded <img src=x onerror=alert(1)> message"


SEED_PASSWORD = "correct horse battery staple"
# How long the archive job may take on the seeded streams (it takes a second or two).
ARCHIVE_WAIT_S = 60.0
# How SQLAlchemy stores the app's UTCDateTime on SQLite: naive UTC text, microseconds and all.
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
SQLITE_DATETIME_SHAPE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The shared live server, with tips on through the test payment provider (the Tips folder)."""
    server = start_server(tmp_path_factory.mktemp("live"), LS_PAYMENTS="test", LS_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class SeededStream:
    stream_id: str
    token: str


@dataclass(frozen=True)
class SeededArchives:
    user_id: str
    token: str
    other_token: str
    stream_id: str  # the ready archive's stream
    ready_id: str
    failed_id: str


def _register(api: httpx.Client, prefix: str) -> tuple[str, str]:
    """A fresh user: (user_id, access token)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    registered = api.post(
        "/api/auth/register", json={"username": name, "email": f"{name}@example.com", "password": SEED_PASSWORD}
    )
    assert registered.status_code == 201, registered.text
    login = api.post("/api/auth/login", json={"login": name, "password": SEED_PASSWORD})
    assert login.status_code == 200, login.text
    return str(registered.json()["user_id"]), str(login.json()["access_token"])


def _go_live(api: httpx.Client, token: str, title: str) -> str:
    created = api.post("/api/streams", json={"title": title}, headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201, created.text
    return str(created.json()["stream_id"])


@pytest.fixture(scope="module")
def seeded_stream(live_server: LiveServer) -> SeededStream:
    """A live stream with HLS files on disk, for the origin's success cases.

    newman cannot publish RTMP, so a creator goes live through the API here and the files are written where the
    transcoder would put them; the collection reads them through /hls and ends the stream (hlsStreamId, hlsToken).
    """
    with httpx.Client(base_url=live_server.base_url, timeout=10) as api:
        _, token = _register(api, "pmseed")
        stream_id = _go_live(api, token, "Seeded test pattern")
    folder = Path(live_server.env["LS_MEDIA_DIR"]) / "live" / stream_id
    for relative, content in SEEDED_FILES.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return SeededStream(stream_id=stream_id, token=token)


def _mark_ingested(live_server: LiveServer, stream_id: str) -> None:
    """Set the stream's ``last_ingest_at`` as ingest does on the first media: without it, an ended stream gets
    no archive. Written straight into the server's SQLite database, in the format the app stores."""
    url = make_url(live_server.env["LS_DATABASE_URL"])
    assert url.get_backend_name() == "sqlite", url
    assert url.database, url
    now = datetime.now(UTC).strftime(SQLITE_DATETIME)
    with closing(sqlite3.connect(url.database, timeout=10)) as db, db:
        key = uuid.UUID(stream_id).hex
        row = db.execute("SELECT started_at FROM streams WHERE stream_id = ?", (key,)).fetchone()
        assert row is not None, f"stream {stream_id} is not in {url.database}"
        # The app's own timestamp has the same shape: a change of storage format fails here, not as a silent miss.
        assert SQLITE_DATETIME_SHAPE.fullmatch(row[0]), row
        updated = db.execute("UPDATE streams SET last_ingest_at = ? WHERE stream_id = ?", (now, key))
        assert updated.rowcount == 1


@pytest.fixture(scope="module")
def old_stream(live_server: LiveServer) -> str:
    """A stream that ended two hours ago, which takes no more tips (tipsOldStreamId): ended through the API, then
    its ``started_at`` and ``ended_at`` moved back in the server's SQLite database (no request backdates an end)."""
    with httpx.Client(base_url=live_server.base_url, timeout=10) as api:
        _, token = _register(api, "pmold")
        stream_id = _go_live(api, token, "Long over")
        ended = api.put(f"/api/streams/{stream_id}/end", headers={"Authorization": f"Bearer {token}"})
        assert ended.status_code == 200, ended.text
    url = make_url(live_server.env["LS_DATABASE_URL"])
    assert url.get_backend_name() == "sqlite", url
    assert url.database, url
    started = (datetime.now(UTC) - timedelta(hours=3)).strftime(SQLITE_DATETIME)
    ended_at = (datetime.now(UTC) - timedelta(hours=2)).strftime(SQLITE_DATETIME)
    with closing(sqlite3.connect(url.database, timeout=10)) as db, db:
        key = uuid.UUID(stream_id).hex
        row = db.execute("SELECT ended_at FROM streams WHERE stream_id = ?", (key,)).fetchone()
        assert row is not None, f"stream {stream_id} is not in {url.database}"
        assert SQLITE_DATETIME_SHAPE.fullmatch(row[0]), row
        updated = db.execute(
            "UPDATE streams SET started_at = ?, ended_at = ? WHERE stream_id = ?", (started, ended_at, key)
        )
        assert updated.rowcount == 1
    return stream_id


def _settled_archive(live_server: LiveServer, api: httpx.Client, stream_id: str) -> dict[str, Any]:
    """The ended stream's archive link once its job is done (ready or failed)."""
    deadline = time.monotonic() + ARCHIVE_WAIT_S
    link: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        seen = api.get(f"/api/streams/{stream_id}")
        assert seen.status_code == 200, seen.text
        link = seen.json()["archive"]
        if link is not None and link["status"] != "processing":
            return link
        time.sleep(0.1)
    pytest.fail(f"archive of {stream_id} not done in {ARCHIVE_WAIT_S}s: {link}\n{live_server.log()[-8000:]}")


@pytest.fixture(scope="module")
def seeded_archives(live_server: LiveServer) -> SeededArchives:
    """A creator's two archives, for the Archives folder: one ready, one failed (archiveReadyId, archiveFailedId).

    newman cannot publish RTMP, so, as in tests/archives, ffmpeg makes a stream's kept media where the transcoder
    leaves it (tests.support.recordings) and the stream's ``last_ingest_at`` is set; ending the stream through the
    API then runs the server's own archive job. The failed one's segments are torn (no timestamp in them): its job
    fails at once ("no video was recorded for this stream"); a stream with no segment at all gets no archive. One
    creator cannot be live twice: the streams go one by one.
    """
    media_dir = Path(live_server.env["LS_MEDIA_DIR"])
    with httpx.Client(base_url=live_server.base_url, timeout=10) as api:
        user_id, token = _register(api, "pmarchive")
        _, other_token = _register(api, "pmother")
        auth = {"Authorization": f"Bearer {token}"}
        stream_ids: list[str] = []
        for title, recorded in (("Archived test pattern", True), ("Nothing kept", False)):
            stream_id = _go_live(api, token, title)
            record(media_dir, uuid.UUID(stream_id), seconds=2 if recorded else 1)
            if not recorded:
                for segment in files.live_dir(media_dir, uuid.UUID(stream_id)).glob("v*/p*.ts"):
                    segment.write_bytes(TORN_SEGMENT)
            _mark_ingested(live_server, stream_id)
            ended = api.put(f"/api/streams/{stream_id}/end", headers=auth)
            assert ended.status_code == 200, ended.text
            stream_ids.append(stream_id)
        ready = _settled_archive(live_server, api, stream_ids[0])
        failed = _settled_archive(live_server, api, stream_ids[1])
    assert ready["status"] == "ready", (ready, live_server.log()[-8000:])
    assert failed["status"] == "failed", failed
    return SeededArchives(
        user_id=user_id,
        token=token,
        other_token=other_token,
        stream_id=stream_ids[0],
        ready_id=ready["archive_id"],
        failed_id=failed["archive_id"],
    )


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


def test_newman_runs_collection(
    live_server: LiveServer, seeded_stream: SeededStream, seeded_archives: SeededArchives, old_stream: str
) -> None:
    _ensure_newman()
    chat_message_id = _seed_chat_message(live_server, seeded_stream)
    account_links = seed_account_tokens(live_server, SEED_PASSWORD)
    env_vars = {
        "baseUrl": live_server.base_url,
        "hlsStreamId": seeded_stream.stream_id,
        "hlsToken": seeded_stream.token,
        "chatMessageId": chat_message_id,
        "archiveUserId": seeded_archives.user_id,
        "archiveToken": seeded_archives.token,
        "archiveOtherToken": seeded_archives.other_token,
        "archiveStreamId": seeded_archives.stream_id,
        "archiveReadyId": seeded_archives.ready_id,
        "archiveFailedId": seeded_archives.failed_id,
        **account_links,
        "tipsOldStreamId": old_stream,
        "stripeWebhookSecret": WEBHOOK_SECRET,
        # The link of a notification email, as the server signs it (its development secret is in its var dir).
        "unsubscribeToken": unsubscribe_token(
            (Path(live_server.env["LS_VAR_DIR"]) / "secret_key").read_text().strip(),
            uuid.UUID(seeded_archives.user_id),
        ),
    }
    command = [
        str(NEWMAN),
        "run",
        str(COLLECTION),
        *(arg for key, value in env_vars.items() for arg in ("--env-var", f"{key}={value}")),
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
    # The requests on seeded data skip themselves without hlsStreamId, archiveReadyId…; here they must have run.
    assert "skipped" not in output, output
    assert "served as an HLS playlist" in output, output
    assert "the seeded message, markup and all" in output, output
    assert "a VOD playlist" in output, output
    assert "told the archive is ready" in output, output
    assert "the account now exists, its address confirmed" in output, output
    assert "told to tip from the channel page" in output, output
    assert "the tip is credited by the signed webhook" in output, output
    assert "received and applied" in output, output


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
        successes = {s for (m, p, s) in UNREACHABLE if (m, p) == (method, path) and 200 <= s < 300}
        if not any(200 <= s < 300 for s in seen | successes):
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
