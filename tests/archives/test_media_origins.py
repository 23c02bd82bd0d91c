"""With S3 storage, the web app's Content-Security-Policy lets the player fetch archives from the bucket or CDN,
and from nowhere else."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from livestream.app.factory import create_app
from livestream.config import Settings
from tests.conftest import SECRET


def settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(
        env="test",
        secret_key=SECRET,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        var_dir=tmp_path,
        media_dir=tmp_path / "media",
        web_dist=tmp_path / "no-web",
        rtmp_enabled=False,
        **overrides,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("overrides", "origins"),
    [
        ({}, ()),
        (
            {"storage": "s3", "s3_bucket": "b", "s3_endpoint_url": "http://127.0.0.1:9000/"},
            ("http://127.0.0.1:9000",),
        ),
        (
            {"storage": "s3", "s3_bucket": "b", "cdn_base_url": "https://cdn.example.com/vod"},
            ("https://cdn.example.com",),
        ),
        (
            {"storage": "s3", "s3_bucket": "b", "s3_region": "eu-west-1"},
            ("https://b.s3.eu-west-1.amazonaws.com", "https://b.s3.amazonaws.com"),
        ),
    ],
)
async def test_media_origins_join_the_csp(tmp_path: Path, overrides: dict[str, object], origins: tuple[str]) -> None:
    config = settings(tmp_path, **overrides)
    assert config.media_origins == origins
    app = create_app(config)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        csp = (await client.get("/healthz")).headers["content-security-policy"]
    for directive in ("media-src", "connect-src", "img-src"):
        value = next(part for part in csp.split(";") if part.strip().startswith(directive))
        for origin in origins:
            assert origin in value.split()
    assert "script-src 'self';" in csp  # scripts stay same-origin whatever the storage
    if not origins:
        assert "connect-src 'self';" in csp


def test_s3_storage_needs_a_bucket(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bucket"):
        settings(tmp_path, storage="s3")
