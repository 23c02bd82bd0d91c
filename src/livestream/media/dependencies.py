"""The app's ingest manager and live-status cache, for routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from livestream.http.deps import provided
from livestream.media.ingest import IngestManager
from livestream.media.live_status import LiveStatusCache

IngestDep = Annotated[IngestManager, Depends(provided(IngestManager))]
LiveStatusDep = Annotated[LiveStatusCache, Depends(provided(LiveStatusCache))]
