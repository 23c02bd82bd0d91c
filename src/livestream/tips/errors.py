from __future__ import annotations

from livestream.errors import AppError, BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable


class IdempotencyKeyRequired(BadRequest):
    code = "IDEMPOTENCY_KEY_REQUIRED"
    message = "Send an Idempotency-Key header (1–255 visible ASCII characters), new for each tip"


class IdempotencyConflict(Conflict):
    code = "IDEMPOTENCY_CONFLICT"
    message = "This Idempotency-Key was used for another tip; use a new key for a new tip"


class AmountOutOfRange(BadRequest):
    code = "AMOUNT_OUT_OF_RANGE"
    message = "The amount is outside what a tip may be in this currency"


class CannotTipSelf(BadRequest):
    code = "CANNOT_TIP_SELF"
    message = "You cannot tip yourself"


class RecipientMismatch(BadRequest):
    code = "VALIDATION_ERROR"
    message = "recipient_id is not the creator of stream_id"


class RecipientRequired(BadRequest):
    code = "VALIDATION_ERROR"
    message = "Send recipient_id or stream_id: who is the tip for?"


class BannedFromChannel(Forbidden):
    code = "BANNED"
    message = "You are banned from this creator's chat, and cannot tip them"


class RecipientNotFound(NotFound):
    code = "USER_NOT_FOUND"
    message = "User not found"


class TransactionNotFound(NotFound):
    code = "TRANSACTION_NOT_FOUND"
    message = "Transaction not found"


class RecipientNotOnboarded(Conflict):
    code = "RECIPIENT_NOT_ONBOARDED"
    message = "This creator cannot receive tips yet: they have not finished setting up payouts"


class StreamNotTippable(Conflict):
    code = "STREAM_NOT_TIPPABLE"
    message = "Tips go to streams that are live or ended within the last hour; tip from the channel page instead"


class PaymentsDisabled(ServiceUnavailable):
    code = "PAYMENTS_DISABLED"
    message = "Tips are not enabled on this server"


class PaymentProviderError(AppError):
    status_code = 502
    code = "PAYMENT_PROVIDER_ERROR"
    message = "The payment provider could not be reached; try again in a moment"


class OnboardingNotNeeded(Conflict):
    code = "ONBOARDING_NOT_NEEDED"
    message = "This server uses test payments: every account can receive tips without setting up payouts"


class InvalidSignature(BadRequest):
    code = "INVALID_SIGNATURE"
    message = "The webhook signature is missing, wrong or too old"


class EventNotHandled(ServiceUnavailable):
    code = "EVENT_NOT_HANDLED"
    message = "The event could not be handled now; deliver it again later"


class TestPaymentsOff(NotFound):
    __test__ = False  # not a pytest class, whatever its name
    code = "NOT_FOUND"
    message = "Test payments are not enabled on this server"
