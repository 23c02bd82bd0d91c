"""FLV: the container whose tags RTMP carries, written so the tags of a publish can be piped into ffmpeg.

An FLV stream is a 9-byte header, PreviousTagSize0 (four zero bytes), then tags, each followed by its own
PreviousTagSize. A tag is 11 bytes of header (type, 24-bit size, 24-bit timestamp, 8-bit timestamp extension
holding bits 24–31, 24-bit stream id, always 0) and the payload: exactly the body of the RTMP audio (8), video (9)
or data (18, without the ``@setDataFrame`` string) message.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

__all__ = [
    "AUDIO",
    "FLV_HEADER",
    "HEADER_SIZE",
    "SCRIPT",
    "VIDEO",
    "FLVError",
    "FLVTag",
    "flv_header",
    "flv_tag",
    "is_video_keyframe",
    "read_flv",
]

AUDIO: Final = 8
VIDEO: Final = 9
SCRIPT: Final = 18
HEADER_SIZE: Final = 9
TAG_HEADER_SIZE: Final = 11
_U32 = struct.Struct(">I")


class FLVError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class FLVTag:
    tag_type: int
    timestamp_ms: int
    payload: bytes


def flv_header(has_audio: bool = True, has_video: bool = True) -> bytes:
    """The FLV file header followed by PreviousTagSize0."""
    flags = (0x04 if has_audio else 0) | (0x01 if has_video else 0)
    return b"FLV\x01" + bytes([flags]) + _U32.pack(HEADER_SIZE) + b"\x00\x00\x00\x00"


FLV_HEADER: Final = flv_header(True, True)


def flv_tag(tag_type: int, timestamp_ms: int, payload: bytes) -> bytes:
    """One FLV tag and the PreviousTagSize after it."""
    if tag_type not in (AUDIO, VIDEO, SCRIPT):
        raise FLVError(f"FLV tag type {tag_type} (expected 8, 9 or 18)")
    if len(payload) > 0xFFFFFF:
        raise FLVError(f"FLV tag payload of {len(payload)} bytes (at most 16 MiB)")
    timestamp = timestamp_ms & 0xFFFFFFFF
    header = (
        bytes([tag_type])
        + len(payload).to_bytes(3, "big")
        + (timestamp & 0xFFFFFF).to_bytes(3, "big")
        + bytes([timestamp >> 24])
        + b"\x00\x00\x00"
    )
    return header + payload + _U32.pack(TAG_HEADER_SIZE + len(payload))


def read_flv(data: bytes) -> Iterator[FLVTag]:
    """The tags of a whole FLV file (for tests and tools)."""
    if len(data) < HEADER_SIZE + 4 or data[:3] != b"FLV":
        raise FLVError("not an FLV file")
    pos = _U32.unpack_from(data, 5)[0] + 4
    while pos + TAG_HEADER_SIZE <= len(data):
        tag_type = data[pos] & 0x1F
        size = int.from_bytes(data[pos + 1 : pos + 4], "big")
        timestamp = int.from_bytes(data[pos + 4 : pos + 7], "big") | (data[pos + 7] << 24)
        end = pos + TAG_HEADER_SIZE + size
        if end + 4 > len(data):
            raise FLVError(f"truncated FLV tag at offset {pos}")
        yield FLVTag(tag_type, timestamp, data[pos + TAG_HEADER_SIZE : end])
        pos = end + 4
    if pos != len(data):
        raise FLVError(f"{len(data) - pos} trailing bytes after the last FLV tag")


def is_video_keyframe(payload: bytes) -> bool:
    """A video tag whose frame type is 1 (key frame), legacy or enhanced-RTMP header alike."""
    return bool(payload) and (payload[0] >> 4) & 0x07 == 1
