"""The shared text rules of ``livestream.validation``: what is refused, what is cleaned, what is kept."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livestream.validation import (
    clean_line,
    clean_text_block,
    is_storable,
    storable,
    unstorable_in,
)

BIDI_CONTROLS = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
INVISIBLE = ["\u200b", "\u2060", "\ufeff", "\u00ad", "\u3164", "\u115f", "\u180e", "\U000e0041"]
FLAG_ENGLAND = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"


@pytest.mark.parametrize("text", ["\x00", "a\x00b", "\ud800", "x\udfff", "\udbff\udc00"[0]])
def test_nul_and_lone_surrogates_are_refused(text: str) -> None:
    assert not is_storable(text)
    with pytest.raises(ValueError, match="surrogates"):
        storable(text)
    for clean in (clean_line, clean_text_block):
        with pytest.raises(ValueError, match="surrogates"):
            clean(text)


@pytest.mark.parametrize("text", ["", "plain", "\uffff\ufffe\U0010ffff\ufdd0", "\ue000", "🎮", "\x01\x7f", "\u202e"])
def test_everything_else_is_storable(text: str) -> None:
    assert is_storable(text)
    assert storable(text) == text


def test_unstorable_in_walks_keys_values_and_lists() -> None:
    assert not unstorable_in({"type": "chat.send", "text": "hi", "n": [1, "two", {"k": None}]})
    assert unstorable_in({"type": "chat.send", "text": "\ud800"})
    assert unstorable_in({"\udc00": 1})
    assert unstorable_in({"a": [{"b": ["ok", "x\x00"]}]})
    assert unstorable_in("\ud800")
    assert not unstorable_in(5)


@pytest.mark.parametrize("control", BIDI_CONTROLS + INVISIBLE)
def test_spoofing_characters_are_dropped(control: str) -> None:
    assert clean_line(f"{control}ad{control}min{control}") == "admin"
    assert clean_text_block(f"one{control}\ntwo{control}") == "one\ntwo"


def test_the_trojan_source_filename_trick_is_undone() -> None:
    # Shown as "invoice_cod.exe" → "invoice_exe.doc" with the override kept.
    assert clean_line("invoice_\u202ecod.exe") == "invoice_cod.exe"


def test_controls_become_spaces_on_one_line_and_line_breaks_stay_in_blocks() -> None:
    assert clean_line("  one\ntwo\r\nthree\u2028four\u2029five\x85six\tseven\x1b[0m  ") == (
        "one two  three four five six seven [0m"
    )
    assert clean_text_block("  one\ntwo\r\nthree\rfour\u2028five\u2029six\x85seven\tcol\x07  ") == (
        "one\ntwo\nthree\nfour\nfive\nsix\nseven\tcol"
    )


@pytest.mark.parametrize(
    "text",
    [
        "שלום\u200f!",  # a right-to-left mark: needed by mixed-direction text, cannot reorder letters
        "مرحبا\u061c 1",  # Arabic letter mark
        "👩\u200d💻 and 👨\u200d👩\u200d👧",  # zero width joiners make emoji sequences
        "می\u200cخواهم",  # zero width non-joiner: Persian spelling
        "❤\ufe0f",  # variation selector
        FLAG_ENGLAND,  # tag characters inside an emoji flag
        "e\u0301",  # combining accent
    ],
)
def test_text_that_needs_its_format_characters_keeps_them(text: str) -> None:
    assert clean_line(text) == text
    assert clean_text_block(text) == text


def test_tags_outside_a_flag_are_dropped_and_the_flag_is_kept() -> None:
    assert clean_line(f"{FLAG_ENGLAND} go\U000e0068\U000e0069") == f"{FLAG_ENGLAND} go"
    assert clean_line("\U000e0067\U000e0062\U000e007f") == ""


def test_ascii_text_is_only_trimmed() -> None:
    assert clean_line("  <b>plain</b>  ") == "<b>plain</b>"
    assert clean_text_block(" a\n\tb ") == "a\n\tb"


SPOOFING = set(BIDI_CONTROLS + INVISIBLE[:-1])
storable_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=60)


@given(storable_text)
def test_a_cleaned_line_is_one_storable_line_without_spoofing(text: str) -> None:
    cleaned = clean_line(text)
    assert is_storable(cleaned)
    assert not SPOOFING & set(cleaned)
    assert not any(ch in cleaned for ch in "\n\r\x85\u2028\u2029")
    assert cleaned == cleaned.strip()
    assert len(cleaned) <= len(text)
    assert clean_line(cleaned) == cleaned


@given(storable_text)
def test_a_cleaned_block_is_storable_without_spoofing(text: str) -> None:
    cleaned = clean_text_block(text)
    assert is_storable(cleaned)
    assert not SPOOFING & set(cleaned)
    assert "\r" not in cleaned
    assert len(cleaned) <= len(text)
    assert clean_text_block(cleaned) == cleaned
