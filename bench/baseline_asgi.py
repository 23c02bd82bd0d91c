"""The baseline server: a bare ASGI app answering every HTTP request with a small JSON body.

Served exactly as ``livestream serve`` serves the real app (uvicorn, uvloop, httptools, one worker, no
logging config, no access log), so a benchmark's ratio against it is the cost of our own code.

    python -m bench.baseline_asgi --port 8123
"""

from __future__ import annotations

import argparse
import ipaddress
from typing import Any

BODY = b'{"user_id":"00000000-0000-0000-0000-000000000000","username":"baseline","follower_count":0}'
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
]


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
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        parser.error("the baseline only listens on a loopback address")

    import uvicorn

    # The same settings as livestream.cli.serve with its defaults: no trusted proxy (LS_TRUSTED_PROXIES empty), so
    # no proxy-headers middleware, as in the app.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
