"""Text types shared by every request schema and by the chat socket's frames.

Two rules, one place:

* **Storable.** Every string that comes in must be one that both databases, the password hasher, the JSON
  encoder and the WebSocket writer can take. Two kinds of character cannot be: NUL (PostgreSQL ``text`` cannot
  hold U+0000) and lone UTF-16 surrogates (U+D800–U+DFFF: a JSON ``"\\ud800"`` escape decodes to one in Python,
  and no UTF-8 encoder takes it, so asyncpg, aiosqlite, argon2 and the socket would fail with a 500). They are
  refused (400 ``VALIDATION_ERROR``), never silently changed. Everything else Unicode allows (noncharacters,
  private use, unassigned code points) is stored as it came on both databases.
* **Clean.** Text that other people see (display names, bios, stream titles and descriptions, ban reasons,
  chat) loses the invisible characters that reorder or hide what is shown: bidi embeddings, overrides and
  isolates (the "Trojan Source" characters), zero-width spaces, fillers that make a name look blank, and tag
  characters outside an emoji flag. Control characters become spaces in one-line text. The bidi *marks*
  (LRM, RLM, ALM) and the zero-width joiners (ZWJ, ZWNJ) stay: right-to-left names, emoji sequences and several
  scripts need them, and they cannot reorder letters.

Secrets (passwords, tokens) and identifiers are only checked as storable: changing a password would lock its
owner out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator

UNSTORABLE_MESSAGE = "must be valid Unicode text without NUL characters or unpaired surrogates"

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# Invisible characters that change or hide what a reader sees, dropped from shown text.
_SPOOFING = (
    "["
    "\u00ad"  # soft hyphen
    "\u034f"  # combining grapheme joiner
    "\u115f\u1160\u3164\uffa0"  # Hangul fillers (a "blank" name)
    "\u17b4\u17b5"  # Khmer inherent vowels (invisible)
    "\u180e"  # Mongolian vowel separator
    "\u200b"  # zero width space
    "\u202a-\u202e"  # bidi embeddings (LRE, RLE), pop (PDF) and overrides (LRO, RLO)
    "\u2060-\u2064"  # word joiner, invisible operators
    "\u2066-\u2069"  # bidi isolates (LRI, RLI, FSI, PDI)
    "\u206a-\u206f"  # deprecated format characters (symmetric swapping, digit shapes)
    "\ufeff"  # zero width no-break space (byte order mark)
    "\ufff9-\ufffb"  # interlinear annotation
    "\U0001d173-\U0001d17a"  # musical symbol format characters
    "\U000e0000-\U000e007f"  # tag characters (kept only inside an emoji flag, below)
    "]"
)
# A subdivision flag (England, Scotland, Wales...) is a black flag, tags, and a cancel tag: kept whole.
_EMOJI_TAG_SEQUENCE = "\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f"
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_CONTROL = "[\x00-\x1f\x7f-\x9f\u2028\u2029]"

_LINE = re.compile(f"({_EMOJI_TAG_SEQUENCE})|({_CONTROL})|{_SPOOFING}")
_BLOCK = re.compile(f"({_EMOJI_TAG_SEQUENCE})|(\r\n?|[\x85\u2028\u2029])|([\n\t])|({_CONTROL})|{_SPOOFING}")


def is_storable(value: str) -> bool:
    """False for text no store or encoder takes: NUL or a lone surrogate anywhere in it."""
    return _UNSTORABLE.search(value) is None


def storable(value: str) -> str:
    """Pydantic validator: refuse text that cannot be stored or encoded (NUL, lone surrogates)."""
    if _UNSTORABLE.search(value) is not None:
        raise ValueError(UNSTORABLE_MESSAGE)
    return value


# The name this check had when it refused only NUL.
reject_nul = storable


def unstorable_in(value: Any) -> bool:
    """True when a decoded JSON value (a WebSocket frame) holds an unstorable string, as a key or a value."""
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, Mapping):
        return any(unstorable_in(key) or unstorable_in(item) for key, item in value.items())
    if isinstance(value, list):
        return any(unstorable_in(item) for item in value)
    return False


def _line_replacement(match: re.Match[str]) -> str:
    if match.group(1):  # an emoji flag
        return match.group(1)
    return " " if match.group(2) else ""  # a control, or a spoofing character


def clean_line(value: str) -> str:
    """One line of shown text: refused if unstorable; spoofing characters dropped, controls made spaces, trimmed."""
    storable(value)
    if not (value.isascii() and value.isprintable()):
        value = _LINE.sub(_line_replacement, value)
    return value.strip()


def _block_replacement(match: re.Match[str]) -> str:
    if match.group(1) or match.group(3):  # an emoji flag, a line feed or a tab
        return match.group(0)
    if match.group(2):  # any other line break
        return "\n"
    return " " if match.group(4) else ""  # a control, or a spoofing character


def clean_text_block(value: str) -> str:
    """Shown text of several lines: as ``clean_line``, but line breaks (made ``\\n``) and tabs stay."""
    storable(value)
    if not (value.isascii() and value.isprintable()):
        value = _BLOCK.sub(_block_replacement, value)
    return value.strip()


def _storable_input(value: Any) -> Any:
    return storable(value) if isinstance(value, str) else value  # not a string: the str validator says so


def _line_input(value: Any) -> Any:
    return clean_line(value) if isinstance(value, str) else value


def _block_input(value: Any) -> Any:
    return clean_text_block(value) if isinstance(value, str) else value


# Markers for ``Annotated[str, <length limits>, MARKER]``. Each runs on the string as sent, before pydantic's own
# str validation, so the length limits (written before the marker) apply to the cleaned text, keep pydantic's
# own messages, and show in the OpenAPI schema.
Storable = BeforeValidator(_storable_input)  # kept exactly as sent: passwords, tokens, sign-in names
CleanLine = BeforeValidator(_line_input)  # shown on one line: names, titles, reasons
CleanText = BeforeValidator(_block_input)  # shown as paragraphs: bios, descriptions

PlainText = Annotated[str, Storable]
