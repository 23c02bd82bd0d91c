"""The chunk stream decoder and encoder: spec examples, extended timestamps, control messages and limits."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livestream.media.rtmp.chunks import ChunkDecoder, ChunkEncoder, ChunkError, Message


def header(fmt: int, csid: int, *, ts: int = 0, length: int = 0, type_id: int = 0, stream_id: int = 0) -> bytes:
    """A chunk header written out field by field, as the spec's figures lay it out (one-byte basic header)."""
    out = bytes([(fmt << 6) | csid])
    extended = ts >= 0xFFFFFF
    if fmt <= 2:
        out += (0xFFFFFF if extended else ts).to_bytes(3, "big")
    if fmt <= 1:
        out += length.to_bytes(3, "big") + bytes([type_id])
    if fmt == 0:
        out += stream_id.to_bytes(4, "little")
    if extended:
        out += struct.pack(">I", ts)
    return out


def test_spec_example_same_size_messages() -> None:
    # RTMP spec §5.3.2.1: four audio messages, the first in full, then fmt 2 (delta 20), then bare fmt 3 chunks.
    body = bytes(range(32))
    data = (
        header(0, 3, ts=1000, length=32, type_id=8, stream_id=12345)
        + body
        + header(2, 3, ts=20)
        + body
        + header(3, 3)
        + body
        + header(3, 3)
        + body
    )
    messages = ChunkDecoder().feed(data)
    assert [(m.timestamp, m.type_id, m.stream_id, m.payload) for m in messages] == [
        (1000, 8, 12345, body),
        (1020, 8, 12345, body),
        (1040, 8, 12345, body),
        (1060, 8, 12345, body),
    ]


def test_spec_example_message_split_in_chunks() -> None:
    # RTMP spec §5.3.2.2: a 307-byte video message in chunks of 128.
    body = bytes(i % 251 for i in range(307))
    data = header(0, 4, ts=1000, length=307, type_id=9, stream_id=12346) + body[:128]
    data += header(3, 4) + body[128:256] + header(3, 4) + body[256:]
    assert ChunkDecoder().feed(data) == [Message(4, 9, 12346, 1000, body)]


def test_fmt3_after_fmt0_reuses_its_timestamp_as_delta() -> None:
    # Spec §5.3.1.2.4 (and ffmpeg's writer relies on it): after a type-0 chunk, a type-3 chunk starting a new
    # message has a delta equal to the type-0 timestamp.
    data = header(0, 6, ts=33, length=1, type_id=9, stream_id=1) + b"a" + header(3, 6) + b"b"
    assert [m.timestamp for m in ChunkDecoder().feed(data)] == [33, 66]


def test_fmt1_changes_length_and_type() -> None:
    data = header(0, 4, ts=0, length=2, type_id=9, stream_id=1) + b"vv"
    data += header(1, 4, ts=21, length=3, type_id=8) + b"aaa"
    data += header(2, 4, ts=2) + b"bbb"
    messages = ChunkDecoder().feed(data)
    assert [(m.type_id, m.timestamp, m.payload, m.stream_id) for m in messages] == [
        (9, 0, b"vv", 1),
        (8, 21, b"aaa", 1),
        (8, 23, b"bbb", 1),
    ]


def test_fmt1_on_a_new_chunk_stream_is_tolerated() -> None:
    # librtmp can open a chunk stream with a type-1 header (timestamp as a delta from zero).
    assert ChunkDecoder().feed(header(1, 4, ts=40, length=1, type_id=9) + b"x") == [Message(4, 9, 0, 40, b"x")]


@pytest.mark.parametrize("repeat_on_fmt3", [True, False], ids=["repeated", "not-repeated"])
def test_extended_timestamp_on_continuation_chunks(repeat_on_fmt3: bool) -> None:
    # ffmpeg and librtmp repeat the extended timestamp after each fmt-3 basic header; some encoders do not.
    ts = 0x01000005
    body = bytes(range(200)) + bytes(100)
    extended = struct.pack(">I", ts) if repeat_on_fmt3 else b""
    data = header(0, 6, ts=ts, length=300, type_id=9, stream_id=1) + body[:128]
    data += header(3, 6) + extended + body[128:256] + header(3, 6) + extended + body[256:]
    assert ChunkDecoder().feed(data) == [Message(6, 9, 1, ts, body)]


def test_fmt3_new_message_reads_its_extended_delta() -> None:
    # ffmpeg sends a type-3 header when the timestamp field (0xFFFFFF) repeats: the extended field that follows
    # is the new delta.
    first, second = 0x01000000, 0x01000010
    data = header(0, 6, ts=first, length=1, type_id=9, stream_id=1) + b"a"
    data += header(3, 6) + struct.pack(">I", second) + b"b"
    assert [m.timestamp for m in ChunkDecoder().feed(data)] == [first, first + second]


def test_extended_delta_wraps_like_librtmp_backwards_delta() -> None:
    # librtmp interleaves audio and video on one chunk stream: a step back in time is sent as a 32-bit delta
    # (an extended timestamp of 0xFFFFFFF9 for -7), also repeated on continuation chunks.
    delta = (-7) & 0xFFFFFFFF
    body = bytes(150)
    data = header(0, 4, ts=100, length=1, type_id=9, stream_id=1) + b"v"
    data += header(1, 4, ts=delta, length=150, type_id=8) + body[:128]
    data += header(3, 4) + struct.pack(">I", delta) + body[128:]
    data += header(2, 4, ts=10) + body[:128] + header(3, 4) + body[128:]
    assert [(m.type_id, m.timestamp) for m in ChunkDecoder().feed(data)] == [(9, 100), (8, 93), (8, 103)]


def test_set_chunk_size_applies_to_the_very_next_bytes() -> None:
    body = bytes(range(256)) * 4
    data = header(0, 2, length=4, type_id=1) + struct.pack(">I", 1024)
    data += header(0, 4, ts=5, length=1024, type_id=9, stream_id=1) + body
    decoder = ChunkDecoder()
    messages = decoder.feed(data)
    assert decoder.chunk_size == 1024
    assert messages[-1] == Message(4, 9, 1, 5, body)


def test_abort_drops_the_partial_message() -> None:
    decoder = ChunkDecoder()
    data = header(0, 4, length=300, type_id=9, stream_id=1) + bytes(128)
    data += header(0, 2, length=4, type_id=2) + struct.pack(">I", 4)
    data += header(0, 4, length=1, type_id=9, stream_id=1) + b"z"
    messages = decoder.feed(data)
    assert messages[-1].payload == b"z"
    assert decoder.buffered == 0


@pytest.mark.parametrize("csid", [2, 63, 64, 319, 320, 1000, 65599])
def test_basic_header_sizes_round_trip(csid: int) -> None:
    encoded = ChunkEncoder(chunk_size=50).encode(csid, 20, 0, 7, bytes(120))
    decoder = ChunkDecoder()
    decoder.chunk_size = 50
    assert decoder.feed(encoded) == [Message(csid, 20, 0, 7, bytes(120))]


def test_encoder_repeats_extended_timestamp_on_continuations() -> None:
    encoded = ChunkEncoder(chunk_size=10).encode(5, 9, 1, 0x12345678, bytes(25))
    assert encoded.count(struct.pack(">I", 0x12345678)) == 3
    decoder = ChunkDecoder()
    decoder.chunk_size = 10
    assert decoder.feed(encoded) == [Message(5, 9, 1, 0x12345678, bytes(25))]


def test_partial_input_waits_for_more() -> None:
    encoded = ChunkEncoder().encode(4, 9, 1, 1, bytes(range(200)))
    decoder = ChunkDecoder()
    out: list[Message] = []
    for index in range(len(encoded)):
        out += decoder.feed(encoded[index : index + 1])
    assert out == [Message(4, 9, 1, 1, bytes(range(200)))]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (header(3, 4) + b"x", "opens with a type-3"),
        (header(2, 4, ts=1) + b"x", "opens with a type-2"),
        (header(0, 4, length=0xFFFFFF, type_id=9), "message of 16777215 bytes"),
        (header(0, 2, length=4, type_id=1) + struct.pack(">I", 0x7FFFFFFF), "Set Chunk Size 2147483647"),
        (header(0, 2, length=4, type_id=1) + struct.pack(">I", 0x80000080), "reserved top bit"),
        (header(0, 2, length=4, type_id=1) + struct.pack(">I", 0), "Set Chunk Size 0"),
        (header(0, 2, length=2, type_id=1) + b"\x00\x10", "shorter than 4"),
        (header(0, 4, length=300, type_id=9) + bytes(128) + header(0, 4, length=1, type_id=9), "middle of a message"),
    ],
)
def test_protocol_violations(data: bytes, match: str) -> None:
    with pytest.raises(ChunkError, match=match):
        ChunkDecoder().feed(data)


def test_chunk_stream_count_is_limited() -> None:
    decoder = ChunkDecoder(max_chunk_streams=8)
    data = b"".join(header(0, csid, length=1, type_id=8) + b"a" for csid in range(2, 10))
    assert len(decoder.feed(data)) == 8
    with pytest.raises(ChunkError, match="more than 8 chunk streams"):
        decoder.feed(header(0, 10, length=1, type_id=8) + b"a")


def test_partly_received_bytes_are_limited() -> None:
    decoder = ChunkDecoder(max_message_size=1000, max_pending_bytes=2500)
    decoder.feed(header(0, 4, length=1000, type_id=9) + bytes(128))
    decoder.feed(header(0, 5, length=1000, type_id=9) + bytes(128))
    with pytest.raises(ChunkError, match="partly received"):
        decoder.feed(header(0, 6, length=1000, type_id=9) + bytes(128))


messages_strategy = st.lists(
    st.tuples(
        st.sampled_from([2, 3, 4, 5, 6, 8, 70, 400]),
        st.sampled_from([8, 9, 18, 20]),
        st.integers(0, 3),
        st.integers(0, 0xFFFFFFFF),
        st.binary(max_size=700),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(messages_strategy, st.integers(1, 600), st.lists(st.integers(1, 400), max_size=30))
def test_any_split_gives_the_same_messages(
    messages: list[tuple[int, int, int, int, bytes]], chunk_size: int, cuts: list[int]
) -> None:
    stream = ChunkEncoder().encode(2, 1, 0, 0, struct.pack(">I", chunk_size))
    encoder = ChunkEncoder(chunk_size=chunk_size)
    stream += b"".join(encoder.encode(*message) for message in messages)
    decoder = ChunkDecoder()
    out: list[Message] = []
    pos = 0
    for cut in cuts:
        out += decoder.feed(stream[pos : pos + cut])
        pos += cut
    out += decoder.feed(stream[pos:])
    assert [(m.chunk_stream_id, m.type_id, m.stream_id, m.timestamp, m.payload) for m in out[1:]] == messages
    assert decoder.buffered == 0


@settings(max_examples=200)
@given(st.binary(max_size=600))
def test_garbage_only_ever_raises_chunk_error(data: bytes) -> None:
    decoder = ChunkDecoder(max_message_size=4096, max_chunk_streams=4)
    with contextlib.suppress(ChunkError):
        decoder.feed(data)
