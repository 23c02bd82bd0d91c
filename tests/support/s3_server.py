"""A real S3-protocol server on loopback for the storage tests (moto's server in a subprocess), and their settings.

The app reaches it through boto3's standard credential chain, so tests set test credentials in the environment
(``use_test_credentials``) rather than handing the app a session.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from livestream.config import Settings

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"
REGION = "us-east-1"
START_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Terminate the server (this process's child, by its PID), then kill it if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_s3_server(log_path: Path | None = None) -> S3Server:
    """Start ``python -m moto.server`` on a free loopback port; returns once it answers HTTP."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # The child keeps its own copy of the log file's descriptor; ours closes when Popen has started.
    with open(log_path, "ab") if log_path else contextlib.nullcontext(subprocess.DEVNULL) as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
    server = S3Server(endpoint=endpoint, process=process)
    deadline = time.monotonic() + START_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode} (log: {log_path or 'none'})")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):  # noqa: S310 - our own loopback URL
                return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"moto server did not answer on {endpoint} within {START_SECONDS} s") from None
            time.sleep(0.05)


def direct_client(endpoint: str) -> Any:
    """A boto3 client with explicit test credentials, for arranging what the app should find."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(s3={"addressing_style": "path"}),
    )


def make_bucket(endpoint: str, name: str | None = None) -> str:
    """Create a bucket (a fresh uuid name by default) and return its name."""
    bucket = name or f"ls-test-{uuid.uuid4().hex}"
    client = direct_client(endpoint)
    try:
        client.create_bucket(Bucket=bucket)
    finally:
        client.close()
    return bucket


def use_test_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Test credentials where boto3's standard chain looks first, and no developer profile or config in the way."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


def storage_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings for a storage under test: media under ``tmp_path``, anything else from ``overrides``."""
    values: dict[str, object] = {
        "env": "test",
        "secret_key": secrets.token_urlsafe(48),
        "var_dir": tmp_path,
        "media_dir": tmp_path / "media",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
