"""The baseline server: a bare ASGI app answering every HTTP request with a small JSON body.

Served exactly as ``livestream serve`` serves the real app (uvicorn, uvloop, httptools, one worker, no
logging config, no access log), so a benchmark's ratio against it is the cost of our own code.

    python -m bench.baseline_asgi --port 8123
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

BODY = b'{"user_id":"00000000-0000-0000-0000-000000000000","username":"baseline","follower_count":0}'

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def answering(body: bytes, *, read_body: bool = False) -> ASGIApp:
    """A bare ASGI app answering every HTTP request 200 with ``body`` (JSON); with ``read_body`` it reads the
    request's body first, as an endpoint taking one does, and drops it."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        while read_body:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


app = answering(BODY)


def serve(application: ASGIApp, host: str, port: int) -> None:
    """Served as ``livestream serve`` serves the real app with its defaults: no trusted proxy
    (LS_TRUSTED_PROXIES empty), so no proxy-headers middleware, as in the app."""
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit("the baseline only listens on a loopback address")
    import uvicorn

    uvicorn.run(
        application,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        loop="uvloop",
        http="httptools",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        parser.error("the baseline only listens on a loopback address")

    serve(app, args.host, args.port)


if __name__ == "__main__":
    main()
