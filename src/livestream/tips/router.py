"""HTTP for tips: starting one, one's own tips, earnings, payouts."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.responses import StreamingResponse

from livestream.auth.dependencies import CurrentUser
from livestream.http.deps import SessionDep, end_reads
from livestream.http.pagination import PageDep
from livestream.http.responses import errors
from livestream.pagination import Page
from livestream.tips import errors as tip_errors
from livestream.tips.checkout import Started
from livestream.tips.dependencies import TipLedgerDep, TippingDep
from livestream.tips.schemas import (
    Earnings,
    OnboardingLink,
    PaymentStep,
    PayoutStatus,
    TipCreate,
    TipCreated,
    TippingInfo,
    TransactionOut,
)
from livestream.tips.service import TipLedger

router = APIRouter(tags=["tips"])

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@router.post(
    "/api/transactions",
    status_code=status.HTTP_201_CREATED,
    response_model=TipCreated,
    responses=errors(400, 401, 403, 404, 409, 429, 502, 503),
    operation_id="createTransaction",
)
async def create_transaction(
    body: TipCreate,
    user: CurrentUser,
    tipping: TippingDep,
    ledger: TipLedgerDep,
    session: SessionDep,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="New for each tip (a UUID); the same key again returns the same tip",
        ),
    ] = None,
) -> TipCreated:
    """Start a tip to a creator (`recipient_id`) or to a stream's creator (`stream_id`). Answers the pending
    transaction and what the browser needs to confirm the payment; the tip is credited once the provider says
    it succeeded."""
    if idempotency_key is None or not _KEY.match(idempotency_key):
        raise tip_errors.IdempotencyKeyRequired()
    await end_reads(session)
    started = await tipping.require_checkout().start(user.user_id, body, idempotency_key)
    if started.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return await _created(ledger, user.user_id, started, tipping.provider.publishable_key if tipping.provider else None)


async def _created(ledger: TipLedger, user_id: uuid.UUID, started: Started, publishable_key: str | None) -> TipCreated:
    tip = await ledger.get(user_id, started.tip.transaction_id)
    intent = started.intent
    payment = None
    if intent is not None and intent.client_secret is not None and tip.status == "pending":
        payment = PaymentStep(
            provider=tip.provider,
            payment_intent_id=intent.id,
            client_secret=intent.client_secret,
            publishable_key=publishable_key,
        )
    return TipCreated(**tip.model_dump(), payment=payment)


@router.get(
    "/api/transactions",
    response_model=Page[TransactionOut],
    responses=errors(400, 401),
    operation_id="listTransactions",
)
async def list_transactions(
    user: CurrentUser,
    ledger: TipLedgerDep,
    page: PageDep,
    role: Annotated[Literal["sent", "received"], Query(description="Tips you sent, or tips you received")] = "sent",
) -> Page[TransactionOut]:
    """Your tips, newest first."""
    return await ledger.page(user.user_id, role, limit=page.limit, cursor=page.cursor)


@router.get(
    "/api/transactions/{transaction_id}",
    response_model=TransactionOut,
    responses=errors(401, 404),
    operation_id="getTransaction",
)
async def get_transaction(transaction_id: uuid.UUID, user: CurrentUser, ledger: TipLedgerDep) -> TransactionOut:
    """One of your tips, sent or received (404 for anyone else's)."""
    return await ledger.get(user.user_id, transaction_id)


@router.get("/api/users/me/earnings", response_model=Earnings, responses=errors(401), operation_id="getEarnings")
async def get_earnings(
    user: CurrentUser,
    ledger: TipLedgerDep,
    stream_id: Annotated[uuid.UUID | None, Query(description="Only this stream's tips (totals only)")] = None,
) -> Earnings:
    """Tips you received: totals per currency and status, our fees and your net; per stream and per month."""
    return await ledger.earnings(user.user_id, stream_id)


@router.get(
    "/api/users/me/earnings.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}, **errors(401)},
    operation_id="exportEarnings",
)
async def export_earnings(user: CurrentUser, tipping: TippingDep) -> StreamingResponse:
    """Every tip you received that is not pending, oldest first, as CSV (amounts in major units)."""
    return StreamingResponse(
        tipping.export.received_csv(user.user_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="earnings.csv"', "Cache-Control": "no-store"},
    )


@router.get("/api/users/me/payouts", response_model=PayoutStatus, responses=errors(401), operation_id="getPayoutStatus")
async def payout_status(user: CurrentUser, tipping: TippingDep, session: SessionDep) -> PayoutStatus:
    """Whether you can receive tips, and where your payout onboarding stands."""
    await end_reads(session)
    return await tipping.payouts.status(user.user_id)


@router.post(
    "/api/users/me/payouts/onboard",
    response_model=OnboardingLink,
    responses=errors(401, 409, 429, 502, 503),
    operation_id="startPayoutOnboarding",
)
async def onboard(user: CurrentUser, tipping: TippingDep, session: SessionDep) -> OnboardingLink:
    """A link to the payment provider's onboarding (Stripe Express). 409 with test payments, which need none."""
    await end_reads(session)
    return await tipping.payouts.onboard(user.user_id)


@router.get(
    "/api/users/{user_id}/tipping", response_model=TippingInfo, responses=errors(404), operation_id="getTipping"
)
async def tipping_info(user_id: uuid.UUID, tipping: TippingDep) -> TippingInfo:
    """Whether a creator can receive tips, in which currency, and the amounts a tip may be."""
    return await tipping.payouts.tipping(user_id)
