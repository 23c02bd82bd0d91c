"""AMF0 (Action Message Format, version 0): the encoding of RTMP commands and FLV script data.

Python values map to AMF0 as follows (both ways):

=================  =========================================
Python             AMF0
=================  =========================================
``float``/``int``  number (0x00), an IEEE-754 double
``bool``           boolean (0x01)
``str``            string (0x02), or long string (0x0C) past 65,535 UTF-8 bytes
``dict``           anonymous object (0x03); typed objects (0x10) decode to ``dict`` too
``None``           null (0x05)
``UNDEFINED``      undefined (0x06); the "unsupported" marker (0x0D) decodes to it as well
``ECMAArray``      ECMA array (0x08): a ``dict`` subclass, so onMetaData compares like a dict
``list``/``tuple`` strict array (0x0A)
``datetime``       date (0x0B), milliseconds since the epoch, UTC (naive datetimes are taken as UTC)
``OBJECT_END``     the object-end marker (0x09), which closes objects and ECMA arrays
=================  =========================================

Decoding is defensive: every length is checked against the input, nesting is bounded, and any malformed input
raises :class:`AMF0Error` (a ``ValueError``), never ``IndexError`` or ``struct.error``.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

__all__ = [
    "MAX_DEPTH",
    "OBJECT_END",
    "UNDEFINED",
    "AMF0Error",
    "ECMAArray",
    "decode",
    "decode_all",
    "encode",
    "encode_all",
]

NUMBER: Final = 0x00
BOOLEAN: Final = 0x01
STRING: Final = 0x02
OBJECT: Final = 0x03
NULL: Final = 0x05
UNDEFINED_MARKER: Final = 0x06
REFERENCE: Final = 0x07
ECMA_ARRAY: Final = 0x08
OBJECT_END_MARKER: Final = 0x09
STRICT_ARRAY: Final = 0x0A
DATE: Final = 0x0B
LONG_STRING: Final = 0x0C
UNSUPPORTED: Final = 0x0D
XML_DOCUMENT: Final = 0x0F
TYPED_OBJECT: Final = 0x10

MAX_DEPTH: Final = 64
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_DOUBLE = struct.Struct(">d")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_DATE_TZ = struct.Struct(">h")


class AMF0Error(ValueError):
    """Input that is not valid AMF0, or a value that AMF0 cannot carry."""


class _Undefined:
    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


class _ObjectEnd:
    _instance: _ObjectEnd | None = None

    def __new__(cls) -> _ObjectEnd:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "OBJECT_END"


UNDEFINED: Final = _Undefined()
OBJECT_END: Final = _ObjectEnd()


class ECMAArray(dict[str, Any]):
    """An AMF0 ECMA array (an associative array, as onMetaData carries)."""

    def __repr__(self) -> str:
        return f"ECMAArray({dict.__repr__(self)})"


# --- encoding -----------------------------------------------------------------------------------------------


def encode(value: Any) -> bytes:
    """One AMF0 value."""
    out = bytearray()
    _encode(out, value, 0)
    return bytes(out)


def encode_all(*values: Any) -> bytes:
    """Several AMF0 values back to back, as a command message body holds them."""
    out = bytearray()
    for value in values:
        _encode(out, value, 0)
    return bytes(out)


def _encode_utf8(out: bytearray, text: str) -> None:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise AMF0Error(f"AMF0 short string of {len(raw)} bytes (at most 65535)")
    out += _U16.pack(len(raw))
    out += raw


def _encode_properties(out: bytearray, items: Mapping[Any, Any], depth: int) -> None:
    for key, item in items.items():
        if not isinstance(key, str):
            raise AMF0Error(f"AMF0 object keys are strings, not {type(key).__name__}")
        if not key:
            raise AMF0Error("AMF0 object keys cannot be empty (an empty key ends the object)")
        _encode_utf8(out, key)
        _encode(out, item, depth + 1)
    out += b"\x00\x00\x09"


def _encode(out: bytearray, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise AMF0Error(f"AMF0 value nested deeper than {MAX_DEPTH}")
    if value is None:
        out.append(NULL)
    elif value is UNDEFINED:
        out.append(UNDEFINED_MARKER)
    elif value is OBJECT_END:
        out.append(OBJECT_END_MARKER)
    elif isinstance(value, bool):
        out.append(BOOLEAN)
        out.append(1 if value else 0)
    elif isinstance(value, int | float):
        out.append(NUMBER)
        out += _DOUBLE.pack(float(value))
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        if len(raw) <= 0xFFFF:
            out.append(STRING)
            out += _U16.pack(len(raw))
        else:
            if len(raw) > 0xFFFFFFFF:
                raise AMF0Error("AMF0 long string longer than 4 GiB")
            out.append(LONG_STRING)
            out += _U32.pack(len(raw))
        out += raw
    elif isinstance(value, ECMAArray):
        out.append(ECMA_ARRAY)
        out += _U32.pack(len(value))
        _encode_properties(out, value, depth)
    elif isinstance(value, Mapping):
        out.append(OBJECT)
        _encode_properties(out, value, depth)
    elif isinstance(value, list | tuple):
        out.append(STRICT_ARRAY)
        out += _U32.pack(len(value))
        for item in value:
            _encode(out, item, depth + 1)
    elif isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        millis = (moment - _EPOCH) / timedelta(milliseconds=1)
        out.append(DATE)
        out += _DOUBLE.pack(millis)
        out += _DATE_TZ.pack(0)
    else:
        raise AMF0Error(f"no AMF0 encoding for {type(value).__name__}")


# --- decoding -----------------------------------------------------------------------------------------------


def decode(data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[Any, int]:
    """The AMF0 value at ``offset`` and the offset just past it."""
    decoder = _Decoder(bytes(data) if not isinstance(data, bytes) else data, offset)
    value = decoder.value(0)
    return value, decoder.pos


def decode_all(data: bytes | bytearray | memoryview) -> list[Any]:
    """Every AMF0 value in ``data`` (a command or data message body)."""
    decoder = _Decoder(bytes(data) if not isinstance(data, bytes) else data, 0)
    values: list[Any] = []
    while decoder.pos < len(decoder.data):
        values.append(decoder.value(0))
    return values


class _Decoder:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int) -> None:
        if pos < 0 or pos > len(data):
            raise AMF0Error(f"offset {pos} outside {len(data)} bytes")
        self.data = data
        self.pos = pos

    def _take(self, size: int) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise AMF0Error(f"truncated AMF0: needed {size} bytes at offset {self.pos}, {len(self.data)} in all")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def _u8(self) -> int:
        if self.pos >= len(self.data):
            raise AMF0Error(f"truncated AMF0 at offset {self.pos}")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def _u16(self) -> int:
        value: int = _U16.unpack(self._take(2))[0]
        return value

    def _u32(self) -> int:
        value: int = _U32.unpack(self._take(4))[0]
        return value

    def _double(self) -> float:
        value: float = _DOUBLE.unpack(self._take(8))[0]
        return value

    def _text(self, size: int) -> str:
        return self._take(size).decode("utf-8", errors="replace")

    def _properties(self, target: dict[str, Any], depth: int) -> None:
        while True:
            key = self._text(self._u16())
            if not key:
                if self._u8() != OBJECT_END_MARKER:
                    raise AMF0Error(f"empty AMF0 property name without the object-end marker at {self.pos - 1}")
                return
            item = self.value(depth + 1)
            if item is OBJECT_END:
                raise AMF0Error(f"object-end marker as the value of property {key!r}")
            target[key] = item

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise AMF0Error(f"AMF0 value nested deeper than {MAX_DEPTH}")
        marker = self._u8()
        if marker == NUMBER:
            return self._double()
        if marker == BOOLEAN:
            return self._u8() != 0
        if marker == STRING:
            return self._text(self._u16())
        if marker in (LONG_STRING, XML_DOCUMENT):
            return self._text(self._u32())
        if marker == NULL:
            return None
        if marker in (UNDEFINED_MARKER, UNSUPPORTED):
            return UNDEFINED
        if marker == OBJECT_END_MARKER:
            return OBJECT_END
        if marker == OBJECT:
            obj: dict[str, Any] = {}
            self._properties(obj, depth)
            return obj
        if marker == TYPED_OBJECT:
            self._text(self._u16())  # the class name: not kept
            typed: dict[str, Any] = {}
            self._properties(typed, depth)
            return typed
        if marker == ECMA_ARRAY:
            self._u32()  # the count is only a hint; encoders get it wrong, the end marker is what counts
            array = ECMAArray()
            self._properties(array, depth)
            return array
        if marker == STRICT_ARRAY:
            count = self._u32()
            # Each element takes at least one byte: a count past the remaining input is a lie.
            if count > len(self.data) - self.pos:
                raise AMF0Error(f"strict array of {count} elements in {len(self.data) - self.pos} bytes")
            items = [self.value(depth + 1) for _ in range(count)]
            if any(item is OBJECT_END for item in items):
                raise AMF0Error("object-end marker inside a strict array")
            return items
        if marker == DATE:
            millis = self._double()
            self._take(2)  # time zone: reserved, always written as 0
            try:
                return _EPOCH + timedelta(milliseconds=millis)
            except (OverflowError, ValueError) as exc:
                raise AMF0Error(f"AMF0 date out of range: {millis!r}") from exc
        if marker == REFERENCE:
            raise AMF0Error("AMF0 object references are not supported")
        raise AMF0Error(f"unknown AMF0 type marker 0x{marker:02x} at offset {self.pos - 1}")
