"""The built web app is served at / with a strict CSP, client routes fall back to index.html,
and API paths never do."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, object]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text('<!doctype html><div id="root"></div><script src="/assets/app-1.js"></script>')
    (dist / "assets" / "app-1.js").write_text("console.log('app')")
    (dist / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("do not serve")
    return {"web_dist": dist}


@pytest.mark.parametrize("path", ["/", "/login", "/u/alice/followers"])
async def test_client_routes_get_index_with_csp(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert 'id="root"' in response.text
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"


async def test_assets_are_immutable(client: httpx.AsyncClient) -> None:
    response = await client.get("/assets/app-1.js")
    assert response.status_code == 200
    assert "immutable" in response.headers["cache-control"]
    assert (await client.get("/favicon.svg")).text == "<svg/>"


async def test_no_file_outside_dist(client: httpx.AsyncClient) -> None:
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt"):
        response = await client.get(path)
        assert "do not serve" not in response.text


async def test_api_paths_stay_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/does-not-exist")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
