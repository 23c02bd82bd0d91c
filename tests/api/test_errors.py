"""The error format, request ids, security headers, OpenAPI, health probes and request logging."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from livestream.logging import configure_logging
from tests.api.helpers import (
    PASSWORD,
    USE_REDIS,
    assert_error,
    bearer,
    container,
    create_user,
    quick_user,
)

ERROR_KEYS = {"error", "code", "type", "title", "status", "detail", "request_id"}
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
}


@pytest.fixture
async def crashing_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the app with a route that raises; the response is checked, not the re-raised error."""

    async def boom() -> None:
        raise RuntimeError("kaboom: secret internals at /srv/app.py line 42")

    app.add_api_route("/api/test-boom", boom, methods=["GET"])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def assert_error_body(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) >= ERROR_KEYS, body
    assert isinstance(body["error"], str)
    assert body["error"]
    assert isinstance(body["code"], str)
    assert body["code"] == body["code"].upper()
    assert body["status"] == response.status_code
    assert body["detail"] == body["error"]
    assert body["request_id"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.headers)
    assert "camera=()" in response.headers.get("permissions-policy", "")
    csp = response.headers.get("content-security-policy", "")
    for directive in ("default-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'self'"):
        assert directive in csp, csp


# --- Error bodies --------------------------------------------------------------------------------------


async def test_unknown_route(client: httpx.AsyncClient) -> None:
    for path in ("/api/nope", "/api/users/me/extra/deep", "/nothing-here"):
        response = await client.get(path)
        body = assert_error(response, 404, "NOT_FOUND")
        assert_error_body(response)
        assert body["error"] == "Not found"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/auth/login", "POST"),
        ("GET", "/api/auth/register", "POST"),
        ("PATCH", "/api/follows", "POST"),
        ("POST", "/healthz", "GET"),
    ],
)
async def test_wrong_method(client: httpx.AsyncClient, method: str, path: str, allowed: str) -> None:
    response = await client.request(method, path)
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert_error_body(response)
    assert allowed in response.headers["allow"]


async def test_every_error_has_the_same_shape(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, token = await quick_user(app, "alice")
    await create_user(app, "bob")
    responses = [
        await client.get("/api/nope"),  # 404 route
        await client.delete("/api/auth/login"),  # 405
        await client.post("/api/auth/register", json={"username": "x"}),  # 400 validation
        await client.post("/api/auth/register", content=b"{", headers={"Content-Type": "application/json"}),
        await client.post(
            "/api/auth/register", json={"username": "bob", "email": "b@example.com", "password": PASSWORD}
        ),  # 409
        await client.post("/api/auth/login", json={"login": "alice", "password": "wrong password"}),  # 401
        await client.get("/api/users/me"),  # 401 without token
        await client.get(f"/api/users/{'0' * 8}-0000-0000-0000-{'0' * 12}"),  # 404 domain
        await client.put(
            f"/api/users/{user['user_id']}", json={"email": "n@example.com"}, headers=bearer(token)
        ),  # 400 domain
        await client.get(f"/api/users/{user['user_id']}/followers", params={"cursor": "bad"}),
        await client.post("/api/auth/refresh"),
    ]
    statuses = [r.status_code for r in responses]
    assert statuses == [404, 405, 400, 400, 409, 401, 401, 404, 400, 400, 401]
    ids = set()
    for response in responses:
        assert_error_body(response)
        assert_security_headers(response)
        ids.add(response.json()["request_id"])
    assert len(ids) == len(responses)  # a fresh id for every request


async def test_validation_errors_name_their_fields(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/register", json={"username": "ab", "email": "nope", "password": "x"})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["fields"]) == {"username", "email", "password"}
    assert all(isinstance(v, str) and v for v in body["fields"].values())
    assert body["error"].split(":")[0] in body["fields"]


async def test_unexpected_exception_is_a_bare_500(crashing_client: httpx.AsyncClient) -> None:
    response = await crashing_client.get("/api/test-boom", headers={"X-Request-ID": "crash-1"})
    body = assert_error(response, 500, "INTERNAL_ERROR")
    assert set(body) == ERROR_KEYS
    assert body["status"] == 500
    assert body["request_id"] == "crash-1"
    assert body["error"] == "Internal server error"
    for leak in ("Traceback", "RuntimeError", "kaboom", "secret internals", "app.py", 'File "'):
        assert leak not in response.text


async def test_unexpected_exception_keeps_request_id_and_security_headers(crashing_client: httpx.AsyncClient) -> None:
    response = await crashing_client.get("/api/test-boom", headers={"X-Request-ID": "crash-2"})
    assert response.status_code == 500
    assert response.headers.get("x-request-id") == "crash-2"
    assert_security_headers(response)


# --- Request ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize("request_id", ["abc-123", "trace.id:42_x", "A" * 128, "0"])
async def test_safe_request_id_is_honoured(client: httpx.AsyncClient, request_id: str) -> None:
    ok = await client.get("/healthz", headers={"X-Request-ID": request_id})
    assert ok.status_code == 200
    assert ok.headers["x-request-id"] == request_id
    failed = await client.get("/api/nope", headers={"X-Request-ID": request_id})
    assert failed.headers["x-request-id"] == request_id
    assert failed.json()["request_id"] == request_id


@pytest.mark.parametrize(
    "request_id",
    [
        "has spaces",
        "line\nbreak",
        "carriage\r\nX-Injected: 1",
        "A" * 129,
        "<script>alert(1)</script>",
        'quote"s',
        "semi;colon",
        "",
    ],
)
async def test_unsafe_request_id_is_replaced(client: httpx.AsyncClient, request_id: str) -> None:
    response = await client.get("/api/nope", headers={"X-Request-ID": request_id})
    assert response.status_code == 404
    echoed = response.headers["x-request-id"]
    assert echoed != request_id
    assert GENERATED_ID.match(echoed), echoed
    assert response.json()["request_id"] == echoed
    assert "x-injected" not in response.headers


async def test_request_id_is_generated_when_absent(client: httpx.AsyncClient) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz")
    assert GENERATED_ID.match(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


# --- Security headers --------------------------------------------------------------------------------


async def test_security_headers_on_every_kind_of_response(client: httpx.AsyncClient, app: FastAPI) -> None:
    _user, token = await quick_user(app, "alice")
    for response in (
        await client.get("/healthz"),
        await client.get("/api/users/me", headers=bearer(token)),
        await client.get("/api/users/me"),
        await client.get("/api/nope"),
        await client.post("/api/auth/register", json={}),
        await client.get("/openapi.json"),
    ):
        assert_security_headers(response)
        assert "'unsafe-inline'" not in response.headers["content-security-policy"]


async def test_docs_page_gets_its_own_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"


# --- OpenAPI -----------------------------------------------------------------------------------------


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


async def test_openapi_lists_error_responses_and_no_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]

    register = paths["/api/auth/register"]["post"]["responses"]
    assert {"201", "400", "409"} <= set(register)
    assert register["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    login = paths["/api/auth/login"]["post"]["responses"]
    assert {"200", "400", "401", "429"} <= set(login)
    assert {"401", "403", "404", "409"} <= set(paths["/api/users/{user_id}"]["put"]["responses"])
    assert {"401", "404", "409"} <= set(paths["/api/follows"]["post"]["responses"])
    assert {"401", "403", "404"} <= set(paths["/api/follows/{follow_id}"]["delete"]["responses"])

    assert "422" not in _keys(paths)
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components
    assert "ValidationError" not in components
    error_body = components["ErrorBody"]["properties"]
    assert {"error", "code", "status", "request_id", "fields", "retry_after"} <= set(error_body)
    # The refresh cookie is an implementation detail, the password hash is never in a schema.
    assert "password_hash" not in json.dumps(components)


# --- Health ------------------------------------------------------------------------------------------


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


@pytest.mark.redis
@pytest.mark.parametrize("settings_overrides", [{"redis_url": USE_REDIS}], indirect=True, ids=["redis"])
async def test_readyz_checks_redis_when_configured(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


@pytest.mark.parametrize(
    "settings_overrides", [{"redis_url": "redis://127.0.0.1:1/0"}], indirect=True, ids=["unreachable-redis"]
)
async def test_readyz_fails_when_redis_is_unreachable(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["checks"] == {"database": "ok", "redis": "unreachable"}
    assert body["status"] == 503
    assert body["code"] == "NOT_READY"
    assert body["error"]
    assert "127.0.0.1:1" not in response.text  # no connection details leak
    # The liveness probe does not depend on Redis.
    assert (await client.get("/healthz")).status_code == 200


# --- Logging -----------------------------------------------------------------------------------------


def log_to_captured_stdout(app: FastAPI) -> None:
    """Point the app's logging at the test's sys.stdout.

    structlog keeps the stream that was sys.stdout when the app was created, and pytest's capsys puts a new
    stream in place for each test phase, so configure it again (exactly as create_app does) in the test.
    """
    settings = container(app).settings
    configure_logging(settings.log_level, json=settings.log_json)


def log_lines(output: str) -> list[dict[str, Any]]:
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    parsed = []
    for line in lines:
        parsed.append(json.loads(line))  # every line is one JSON object
    return parsed


def request_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("event") == "request"]


async def test_request_log_lines(capsys: pytest.CaptureFixture[str], client: httpx.AsyncClient, app: FastAPI) -> None:
    log_to_captured_stdout(app)
    user, token = await quick_user(app, "alice")
    capsys.readouterr()  # only the requests below
    await client.get("/api/users/me", headers={**bearer(token), "X-Request-ID": "log-me-1"})
    await client.get("/api/nope", headers={"X-Request-ID": "log-anon-2"})
    await client.get("/api/users/me", headers={**bearer("forged"), "X-Request-ID": "log-bad-3"})

    lines = request_lines(log_lines(capsys.readouterr().out))
    by_id = {line["request_id"]: line for line in lines}
    assert set(by_id) == {"log-me-1", "log-anon-2", "log-bad-3"}
    for line in lines:
        assert {"timestamp", "level", "request_id", "method", "path", "status", "duration_ms", "user_id"} <= set(line)
        assert line["method"] == "GET"
        assert isinstance(line["duration_ms"], int | float)
        assert line["duration_ms"] >= 0
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", line["timestamp"])
    me = by_id["log-me-1"]
    assert me["path"] == "/api/users/me"
    assert me["status"] == 200
    assert me["level"] == "info"
    assert me["user_id"] == user["user_id"]
    anon = by_id["log-anon-2"]
    assert anon["path"] == "/api/nope"
    assert anon["status"] == 404
    assert anon["level"] == "warning"
    assert anon["user_id"] is None
    assert by_id["log-bad-3"]["status"] == 401
    assert by_id["log-bad-3"]["user_id"] is None


async def test_a_crash_is_logged_with_its_request_id(
    capsys: pytest.CaptureFixture[str], app: FastAPI, crashing_client: httpx.AsyncClient
) -> None:
    log_to_captured_stdout(app)
    response = await crashing_client.get("/api/test-boom", headers={"X-Request-ID": "crash-log-1"})
    assert response.status_code == 500
    lines = log_lines(capsys.readouterr().out)
    request = [line for line in request_lines(lines) if line["request_id"] == "crash-log-1"]
    assert len(request) == 1
    assert request[0]["status"] == 500
    assert request[0]["level"] == "error"
    assert any(line.get("event") == "unhandled_exception" and "kaboom" in json.dumps(line) for line in lines)


async def test_no_password_or_token_is_logged(
    capsys: pytest.CaptureFixture[str], client: httpx.AsyncClient, app: FastAPI
) -> None:
    password = "Zebra-Unicorn-Marmalade-77"
    new_password = "Quokka-Lantern-Biscuit-55"
    log_to_captured_stdout(app)
    registered = await client.post(
        "/api/auth/register", json={"username": "alice", "email": "alice@example.com", "password": password}
    )
    assert registered.status_code == 201
    wrong = await client.post("/api/auth/login", json={"login": "alice", "password": password + "x"})
    assert wrong.status_code == 401
    login = await client.post(
        "/api/auth/login", json={"login": "alice", "password": password, "include_refresh_token": True}
    )
    assert login.status_code == 200, login.text
    first_refresh = login.json()["refresh_token"]
    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": first_refresh, "include_refresh_token": True}
    )
    assert refreshed.status_code == 200, refreshed.text
    access = refreshed.json()["access_token"]
    changed = await client.put(
        f"/api/users/{registered.json()['user_id']}",
        headers=bearer(access),
        json={"password": new_password, "current_password": password},
    )
    assert changed.status_code == 200, changed.text
    reused = await client.post("/api/auth/refresh", json={"refresh_token": first_refresh})
    assert reused.status_code == 401
    assert (await client.post("/api/auth/logout", headers=bearer(access))).status_code == 204

    captured = capsys.readouterr()
    output = captured.out + captured.err
    lines = log_lines(captured.out)
    assert len(request_lines(lines)) == 7
    secrets = [
        password,
        password + "x",
        new_password,
        login.json()["access_token"],
        first_refresh,
        access,
        refreshed.json()["refresh_token"],
    ]
    for secret in secrets:
        assert secret not in output
        assert secret[:24] not in output  # not even a prefix
    assert "argon2" not in output
