"""The built web app is served at / with a strict CSP, client routes fall back to index.html,
and API paths never do."""

from __future__ import annotations

import html
from pathlib import Path

import httpx
import pytest


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, object]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(
        "<!doctype html><html><head><title>LiveStream Pro</title></head>"
        '<body><div id="root"></div><script src="/assets/app-1.js"></script></body></html>'
    )
    (dist / "assets" / "app-1.js").write_text("console.log('app')")
    (dist / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("do not serve")
    return {"web_dist": dist}


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/login",
        "/u/alice/followers",
        "/unsubscribe?token=abc.def",
        "/verify-email?token=abc_-1",
        "/forgot-password",
        "/reset-password?token=abc_-1",
    ],
)
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
    # Media paths too: a VOD path that no route matches (a decoded %2F climbing out) is a 404, not the app's page.
    for path in ("/api/does-not-exist", "/vod/00000000-0000-4000-8000-000000000000/..%2Fx", "/vod/x", "/hls/x"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "NOT_FOUND"


async def test_watch_page_has_open_graph_tags(app: object, client: httpx.AsyncClient) -> None:
    from tests.api.helpers import bearer, quick_user

    _, token = await quick_user(app)
    title = 'Night <script>alert("x")</script> & chill'
    created = await client.post("/api/streams", json={"title": title}, headers=bearer(token))
    sid = created.json()["stream_id"]
    page = await client.get(f"/watch/{sid}")
    assert page.status_code == 200
    assert 'id="root"' in page.text
    assert '<meta property="og:type" content="video.other" />' in page.text
    assert f'content="http://testserver/hls/{sid}/thumbnail.jpg"' in page.text
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; chill" in page.text
    assert "<title>Night &lt;script&gt;" in page.text
    assert "content-security-policy" in page.headers


@pytest.mark.parametrize("stream_id", ["not-a-uuid", "00000000-0000-4000-8000-000000000000"])
async def test_watch_page_for_unknown_stream_is_the_plain_app(client: httpx.AsyncClient, stream_id: str) -> None:
    page = await client.get(f"/watch/{stream_id}")
    assert page.status_code == 200
    assert 'id="root"' in page.text
    assert "og:title" not in page.text


@pytest.mark.parametrize("title", ["back\\1slash", "group \\g<0> ref", "trailing \\"])
async def test_watch_page_takes_backslashes_in_user_text(app: object, client: httpx.AsyncClient, title: str) -> None:
    """User text is never read as a regex replacement template (it once answered 500)."""
    from tests.api.helpers import bearer, quick_user

    user, token = await quick_user(app)
    created = await client.post("/api/streams", json={"title": "plain"}, headers=bearer(token))
    sid = created.json()["stream_id"]
    patched = await client.patch(f"/api/streams/{sid}", json={"title": title}, headers=bearer(token))
    assert patched.status_code == 200
    renamed = await client.put(
        f"/api/users/{user['user_id']}", json={"display_name": "Name \\2"}, headers=bearer(token)
    )
    assert renamed.status_code == 200
    page = await client.get(f"/watch/{sid}")
    assert page.status_code == 200
    assert f"<title>{html.escape(title)} — Name \\2</title>" in page.text
