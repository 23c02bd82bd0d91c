"""Publish an FLV file over RTMP with librtmp, the library OBS's RTMP output derives from.

Run by Debian's system Python with its ``python3-librtmp`` package (not the project's venv), so it imports
nothing from the project:

    /usr/bin/python3 tests/support/librtmp_publish.py rtmp://127.0.0.1:PORT/live/KEY file.flv [--batch BYTES]

librtmp's ``RTMP_Write`` takes whole FLV tags only; they are written in batches of at most ``--batch`` bytes
(one tag may exceed it). Exit status 0 when every tag was written and the stream closed cleanly (librtmp then
sends FCUnpublish and deleteStream), 1 with the error on stderr otherwise.
"""

from __future__ import annotations

import argparse
import struct
import sys
import time


def flv_tags(data: bytes) -> list[bytes]:
    """Each tag of an FLV file with its trailing PreviousTagSize, as librtmp wants them."""
    if data[:3] != b"FLV":
        raise ValueError("not an FLV file")
    pos = struct.unpack_from(">I", data, 5)[0] + 4
    tags = []
    while pos + 11 <= len(data):
        size = int.from_bytes(data[pos + 1 : pos + 4], "big")
        end = pos + 11 + size + 4
        if end > len(data):
            raise ValueError(f"truncated tag at {pos}")
        tags.append(data[pos:end])
        pos = end
    return tags


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("flv")
    parser.add_argument("--batch", type=int, default=16 * 1024)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds to sleep between batches")
    args = parser.parse_args()

    import librtmp

    with open(args.flv, "rb") as handle:
        tags = flv_tags(handle.read())
    try:
        conn = librtmp.RTMP(args.url, live=True)
        conn.connect()
        stream = conn.create_stream(writeable=True)
        batch = b""
        for tag in tags:
            if batch and len(batch) + len(tag) > args.batch:
                stream.write(batch)
                batch = b""
                if args.pause:
                    time.sleep(args.pause)
            batch += tag
        if batch:
            stream.write(batch)
        stream.close()
    except (librtmp.RTMPError, OSError) as exc:
        print(f"librtmp: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(tags)} tags", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
