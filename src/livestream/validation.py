"""Field types shared by request schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def reject_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000; refusing it here keeps SQLite and PostgreSQL behaving alike.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


PlainText = Annotated[str, AfterValidator(reject_nul)]
