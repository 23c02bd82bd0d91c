"""AMF0: every type both ways, byte layouts from the spec, and hostile input."""

from __future__ import annotations

import contextlib
import math
import struct
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livestream.media.rtmp import amf0
from livestream.media.rtmp.amf0 import OBJECT_END, UNDEFINED, AMF0Error, ECMAArray


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (1.5, b"\x00" + struct.pack(">d", 1.5)),
        (3, b"\x00" + struct.pack(">d", 3.0)),
        (True, b"\x01\x01"),
        (False, b"\x01\x00"),
        ("live", b"\x02\x00\x04live"),
        ({"a": 1.0}, b"\x03\x00\x01a\x00" + struct.pack(">d", 1.0) + b"\x00\x00\x09"),
        (None, b"\x05"),
        (UNDEFINED, b"\x06"),
        (ECMAArray(w=2.0), b"\x08\x00\x00\x00\x01\x00\x01w\x00" + struct.pack(">d", 2.0) + b"\x00\x00\x09"),
        (OBJECT_END, b"\x09"),
        (["x", None], b"\x0a\x00\x00\x00\x02\x02\x00\x01x\x05"),
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), b"\x0b" + struct.pack(">d", 1704164645000.0) + b"\x00\x00"),
    ],
)
def test_encode_layout(value: Any, encoded: bytes) -> None:
    assert amf0.encode(value) == encoded
    decoded, end = amf0.decode(encoded)
    assert end == len(encoded)
    assert decoded == value or decoded is value


def test_long_string() -> None:
    text = "é" * 40_000  # 80,000 UTF-8 bytes: past the short string's 65,535
    encoded = amf0.encode(text)
    assert encoded[0] == 0x0C
    assert struct.unpack_from(">I", encoded, 1)[0] == 80_000
    assert amf0.decode(encoded) == (text, len(encoded))


def test_ecma_array_decodes_as_ecma_array_and_compares_as_dict() -> None:
    # onMetaData as ffmpeg writes it: a wrong count is tolerated, the end marker is what counts.
    body = amf0.encode("onMetaData") + b"\x08\x00\x00\x00\x09" + amf0.encode({"width": 1280.0})[1:]
    name, metadata = amf0.decode_all(body)
    assert name == "onMetaData"
    assert isinstance(metadata, ECMAArray)
    assert metadata == {"width": 1280}


def test_typed_object_xml_and_unsupported() -> None:
    typed = b"\x10\x00\x03Foo\x00\x01a\x05\x00\x00\x09"
    assert amf0.decode(typed)[0] == {"a": None}
    assert amf0.decode(b"\x0f\x00\x00\x00\x03<a>")[0] == "<a>"
    assert amf0.decode(b"\x0d")[0] is UNDEFINED


def test_command_round_trip() -> None:
    values = ["_result", 1.0, {"fmsVer": "FMS/3", "capabilities": 31.0}, {"level": "status", "ok": True}]
    assert amf0.decode_all(amf0.encode_all(*values)) == values


def test_naive_datetime_is_utc() -> None:
    naive = datetime(2020, 5, 6, 7, 8, 9, 123000)
    assert amf0.decode(amf0.encode(naive))[0] == naive.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x01\x02",  # truncated number
        b"\x02\x00\x05ab",  # string shorter than its length
        b"\x0c\xff\xff\xff\xff",  # long string of 4 GiB in 5 bytes
        b"\x03\x00\x01a",  # object cut after a key
        b"\x03\x00\x00\x05",  # empty key without the end marker
        b"\x03\x00\x01a\x09",  # object end as a property value
        b"\x0a\xff\xff\xff\xff\x05",  # strict array claiming 4 billion elements
        b"\x07\x00\x01",  # reference
        b"\x11",  # AVM+ switch
        b"\x04",  # movieclip (reserved)
        b"\x0b" + struct.pack(">d", math.inf) + b"\x00\x00",  # date out of range
        b"\x0b" + struct.pack(">d", math.nan) + b"\x00\x00",
    ],
)
def test_malformed_input_raises_amf0_error(data: bytes) -> None:
    with pytest.raises(AMF0Error):
        amf0.decode_all(data) if data else amf0.decode(data)


def test_nesting_is_bounded() -> None:
    deep = b"\x0a\x00\x00\x00\x01" * 200 + b"\x05"
    with pytest.raises(AMF0Error, match="nested"):
        amf0.decode(deep)
    nested: Any = None
    for _ in range(100):
        nested = [nested]
    with pytest.raises(AMF0Error):
        amf0.encode(nested)


@pytest.mark.parametrize("value", [{1: "x"}, {"": 1.0}, object(), {"a": object()}, b"raw"])
def test_unencodable_values(value: Any) -> None:
    with pytest.raises(AMF0Error):
        amf0.encode(value)


amf_values = st.recursive(
    st.none()
    | st.just(UNDEFINED)
    | st.booleans()
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)).map(
        lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    ),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=4).map(ECMAArray)
    ),
    max_leaves=20,
)


@given(st.lists(amf_values, max_size=5))
def test_round_trip(values: list[Any]) -> None:
    assert amf0.decode_all(amf0.encode_all(*values)) == values


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_decoder(data: bytes) -> None:
    with contextlib.suppress(AMF0Error):
        amf0.decode_all(data)
