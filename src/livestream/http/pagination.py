"""Query parameters of paginated endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from livestream.pagination import Cursor


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: Cursor | None


async def page_params(
    limit: Annotated[int, Query(ge=1, le=100, description="Items per page (1–100)")] = 20,
    cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=Cursor.decode(cursor) if cursor else None)


PageDep = Annotated[PageParams, Depends(page_params)]
