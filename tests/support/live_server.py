"""A real ``livestream serve`` subprocess on a free loopback port, for newman and Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(workdir: Path, **env_overrides: str) -> LiveServer:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # The caller's own LS_* settings must not leak into a test server.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("LS_") or k == "LS_REQUIRE_SERVICES"}
    env = {
        **inherited,
        "LS_ENV": "test",
        "LS_HOST": "127.0.0.1",
        "LS_PORT": str(port),
        "LS_RTMP_PORT": str(free_port()),
        "LS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LS_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'livestream.db'}",
        "LS_MEDIA_DIR": str(workdir / "media"),
        "LS_VAR_DIR": str(workdir),
        "LS_WEB_DIST": str(WEB_DIST),
        # Push subscriptions on loopback (the Postman collection's; nothing is pushed to them).
        "LS_PUSH_ALLOW_PRIVATE_ENDPOINTS": "true",
        **env_overrides,
    }
    log_path = workdir / "server.log"
    with log_path.open("wb") as log_file:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "livestream", "serve", "--migrate"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    server = LiveServer(base_url=f"http://127.0.0.1:{port}", process=process, log_path=log_path, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not become healthy:\n{server.log()}")
