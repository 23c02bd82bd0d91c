"""Property tests of the whole HTTP API from its own OpenAPI schema (schemathesis), on SQLite and PostgreSQL.

Every operation gets generated requests, valid ones and invalid ones, sent in-process through schemathesis' ASGI
transport (which runs the app's lifespan in its own event loop thread). Each operation starts with a fresh
signed-in user who owns a live stream and is followed by a second user; generated ids in paths and bodies are
swapped for those real ids often enough that the handlers behind the 404s run too. No answer may be a 5xx, and
every answer must match what the schema documents for it. Every generated JSON body is also sent a second time
with one string field holding a lone UTF-16 surrogate (which schemathesis itself never generates): a 400, never a
500 (issue 7).

Bounded and reproducible: derandomized Hypothesis, a fixed number of examples per operation, no example database.
"""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from livestream.app.factory import create_app
from livestream.config import Settings
from livestream.models import Base
from tests.api.helpers import PASSWORD
from tests.conftest import SECRET

pytestmark = pytest.mark.openapi

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
    }
)


SETTINGS = {
    "env": "test",
    "secret_key": SECRET,
    "public_url": "http://testserver",
    "log_json": True,
    "rtmp_enabled": False,
    # Reconcilers and purges run when a test asks, as in every other test app (tests/conftest.py): here they would
    # start at each minute's turn beside the generated requests, and twice a SQLite write waited past its 5 s
    # busy timeout on the registration of a test's users (a 500 in the fixture, not in the operation under test).
    "jobs_periodic": False,
    # Tips on, with the local provider: its routes answer as documented (tips off, they would all say 503).
    "payments": "test",
    # Generated sign-ins fail by the hundred from one address: a lockout would answer 429 to everything after.
    "login_max_failures_per_address": 1_000_000,
    "login_max_failures_per_account": 1_000_000,
}


def _openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document, read at collection time (no database needed) so each operation is one test."""
    unused = Path(__file__).parent / "no-such-dir"
    app = create_app(Settings(**SETTINGS, database_url="sqlite+aiosqlite://", var_dir=unused, web_dist=unused))  # type: ignore[arg-type]
    return app.openapi()


schema = schemathesis.openapi.from_dict(_openapi_document(), config=CONFIG)


def _truncate(database_url: str) -> None:
    async def run() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} CASCADE"))
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[FastAPI]:
    """One app per database for the whole module; each operation gets its own users (``actors``)."""
    workdir = tmp_path_factory.mktemp(f"openapi-{request.param}")
    if request.param == "sqlite":
        shutil.copy(sqlite_template, workdir / "livestream.db")
        database_url = f"sqlite+aiosqlite:///{workdir / 'livestream.db'}"
    else:
        database_url = request.getfixturevalue("postgres_url")
        _truncate(database_url)
    settings = Settings(
        **SETTINGS, database_url=database_url, var_dir=workdir, media_dir=workdir / "media", web_dist=workdir / "no-web"
    )  # type: ignore[arg-type]
    application = create_app(settings)
    try:
        yield application
    finally:
        asgi.shutdown_lifespans()  # the lifespan schemathesis started on the first request: closes the pool


@dataclass
class Actors:
    """One operation's world: a signed-in creator with a live stream, and a follower."""

    creator_id: str
    creator_name: str
    token: str
    stream_id: str
    fan_id: str
    follow_id: str

    def ids(self, name: str) -> list[str]:
        return {
            "stream_id": [self.stream_id],
            "user_id": [self.creator_id, self.fan_id],
            "following_id": [self.creator_id, self.fan_id],
            "follow_id": [self.follow_id],
            "username": [self.creator_name],
        }.get(name, [])


class World:
    """Makes the users and the stream an operation's requests are about."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def make(self) -> Actors:
        with asgi.get_client(self.app) as client:
            creator = self._sign_up(client)
            fan = self._sign_up(client)
            headers = {"Authorization": f"Bearer {creator[2]}"}
            stream = client.post("/api/streams", json={"title": "Property test"}, headers=headers)
            assert stream.status_code == 201, stream.text
            follow = client.post(
                "/api/follows", json={"following_id": creator[0]}, headers={"Authorization": f"Bearer {fan[2]}"}
            )
            assert follow.status_code == 201, follow.text
        return Actors(
            creator[0], creator[1], creator[2], stream.json()["stream_id"], fan[0], follow.json()["follow_id"]
        )

    @staticmethod
    def _sign_up(client: Any) -> tuple[str, str, str]:
        username = f"prop_{uuid.uuid4().hex[:12]}"
        registered = client.post(
            "/api/auth/register",
            json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        )
        assert registered.status_code == 201, registered.text
        login = client.post("/api/auth/login", json={"login": username, "password": PASSWORD})
        assert login.status_code == 200, login.text
        return registered.json()["user_id"], username, login.json()["access_token"]


@pytest.fixture
def actors(api_app: FastAPI) -> Actors:
    return World(api_app).make()


def _pick(generated: object, real: list[str]) -> object:
    """Keep the generated value or swap in one of the real ids, each as often, chosen by the value itself."""
    if not real:
        return generated
    choice = zlib.crc32(repr(generated).encode("utf-8", "backslashreplace")) % (len(real) + 1)
    return generated if choice == len(real) else real[choice]


def _use_real_ids(case: schemathesis.Case, actors: Actors) -> None:
    for name, value in list((case.path_parameters or {}).items()):
        case.path_parameters[name] = _pick(value, actors.ids(name))
    if isinstance(case.body, dict):
        for name in ("user_id", "following_id"):
            if name in case.body:
                case.body[name] = _pick(case.body[name], actors.ids(name))


def _with_a_lone_surrogate(body: dict[str, Any]) -> dict[str, Any] | None:
    """The body with one of its string fields (a different one from case to case) ending in a lone surrogate."""
    names = sorted(name for name, value in body.items() if isinstance(value, str))
    if not names:
        return None
    name = names[zlib.crc32(repr(body).encode("utf-8", "backslashreplace")) % len(names)]
    changed = copy.deepcopy(body)
    changed[name] = body[name][:8] + "\ud800"
    return changed


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented_and_never_5xx(
    case: schemathesis.Case, api_app: FastAPI, actors: Actors
) -> None:
    _use_real_ids(case, actors)
    headers = {"Authorization": f"Bearer {actors.token}"}
    response = case.call(headers=headers, app=api_app)
    case.validate_response(response, checks=CHECKS, headers=headers)

    if case.method.upper() != case.operation.method.upper():
        return  # the coverage phase also tries methods the route does not have (405)
    if isinstance(case.body, dict) and (poisoned := _with_a_lone_surrogate(case.body)) is not None:
        # Sent by hand: schemathesis cannot check a body it could not encode. json.dumps writes it as "\\ud800".
        with asgi.get_client(api_app) as client:
            response = client.request(
                case.method,
                case.formatted_path,
                params=case.query,
                data=json.dumps(poisoned),
                headers={**headers, "Content-Type": "application/json"},
            )
        assert response.status_code == 400, (case.operation.label, poisoned, response.text)
        assert response.json()["code"] == "VALIDATION_ERROR", response.text
