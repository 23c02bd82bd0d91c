"""What the tips routes are given: the app's Tipping, and the ledger on the request's session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from livestream.http.deps import SessionDep, provided
from livestream.tips.repository import TipRepository
from livestream.tips.service import TipLedger
from livestream.tips.tipping import Tipping


async def get_ledger(session: SessionDep) -> TipLedger:
    return TipLedger(TipRepository(session))


TipLedgerDep = Annotated[TipLedger, Depends(get_ledger)]
TippingDep = Annotated[Tipping, Depends(provided(Tipping))]
