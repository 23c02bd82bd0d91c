"""A local Stripe-compatible HTTP server for tests: the subset of Stripe's API the app calls, plus webhook helpers.

Point the real SDK at it (``StripeProvider(..., api_base=fake.url)``). It speaks Stripe's wire format: form-encoded
bodies with bracketed nested keys, ``Authorization: Bearer <key>``, ``Idempotency-Key`` replays, Stripe's error JSON
and object shapes. Tests drive it through ``set_intent_status``, ``set_account``, ``fail_next``, ``delay_next`` and
``lose_next_responses``, and read what it was sent from ``requests``.

Webhook events are built with ``event`` and signed with ``sign`` (the SDK's own signature code), so a handler sees
the bytes and header Stripe would send.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import stripe

API_KEY = "sk_test_fakestripe0123456789abcdefABCDEF"
PUBLISHABLE_KEY = "pk_test_fakestripe0123456789abcdefABCDEF"
WEBHOOK_SECRET = "whsec_fakestripe0123456789abcdefABCDEF"
# The API version the installed SDK pins, which is what a live endpoint's events would carry.
API_VERSION: str = stripe.api_version

CURRENCIES = frozenset({"jpy", "usd", "eur"})
# Decline codes a card error carries beside code="card_declined" (a subset of Stripe's list).
DECLINE_CODES = frozenset({"generic_decline", "insufficient_funds", "lost_card", "stolen_card", "do_not_honor"})
CANCELABLE = frozenset(
    {"requires_payment_method", "requires_confirmation", "requires_action", "processing", "requires_capture"}
)

Json = dict[str, Any]


@dataclass(frozen=True)
class RecordedRequest:
    method: str  # upper case
    path: str  # without the query string
    params: Json  # the decoded form body (POST) or query string (GET); values stay the strings that were sent
    idempotency_key: str | None


@dataclass
class _Stored:
    method: str
    path: str
    params: Json
    status: int
    body: bytes


class StripeErrorResponse(Exception):
    def __init__(self, status: int, type_: str, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.body: Json = {"error": {"type": type_, "message": message}}
        if code:
            self.body["error"]["code"] = code
        if param:
            self.body["error"]["param"] = param

    def with_object(self, key: str, obj: Json) -> StripeErrorResponse:
        self.body["error"][key] = copy.deepcopy(obj)
        return self


def _missing(kind: str, id_: str, param: str | None = None) -> StripeErrorResponse:
    return StripeErrorResponse(
        404 if param is None else 400,
        "invalid_request_error",
        f"No such {kind}: '{id_}'",
        code="resource_missing",
        param=param,
    )


def _invalid(message: str, param: str, code: str = "parameter_invalid") -> StripeErrorResponse:
    return StripeErrorResponse(400, "invalid_request_error", message, code=code, param=param)


def decode_form(raw: str) -> Json:
    """Decode ``a[b][c]=v`` pairs into nested dicts; dicts keyed 0..n-1 (``expand[0]``) become lists."""
    root: Json = {}
    for key, value in urllib.parse.parse_qsl(raw, keep_blank_values=True):
        head, _, rest = key.partition("[")
        path = [head] + (re.findall(r"\[([^\]]*)\]", "[" + rest) if rest else [])
        node = root
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
    decoded: Json = _listify(root)
    return decoded


def _listify(node: Json) -> Any:
    for key, value in node.items():
        if isinstance(value, dict):
            node[key] = _listify(value)
    if node and all(key.isdigit() for key in node) and sorted(int(key) for key in node) == list(range(len(node))):
        return [node[str(index)] for index in range(len(node))]
    return node


def event(
    type: str,
    obj: Json,
    *,
    event_id: str | None = None,
    created: int | None = None,
) -> bytes:
    """A Stripe event body (a snapshot event, as a webhook endpoint receives it) carrying ``obj`` as data.object."""
    body = {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": API_VERSION,
        "created": created if created is not None else int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type,
    }
    return json.dumps(body).encode()


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header for ``payload``, computed by the SDK itself."""
    header = stripe.WebhookSignature.generate_signature_header(payload.decode("utf-8"), secret, timestamp)
    return str(header)


class FakeStripe:
    """Stripe's API for the calls the app makes. Thread-safe: one lock around all state."""

    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.intents: dict[str, Json] = {}
        self.accounts: dict[str, Json] = {}
        self.refunds: dict[str, Json] = {}
        self.charges: dict[str, Json] = {}
        self._idempotent: dict[str, _Stored] = {}
        self._failures: list[tuple[int, str | None, str | None]] = []
        self._delays: list[float] = []
        self._lose = 0
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle

    @property
    def url(self) -> str:
        """The base address to give the SDK (``api_base``)."""
        if self._server is None:
            raise RuntimeError("FakeStripe is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeStripe:
        fake = self

        class Handler(_Handler):
            stripe_fake = fake

        server = _Server(("127.0.0.1", 0), Handler)
        self._server = server
        self._thread = threading.Thread(
            # A short poll keeps stop() (which waits for the loop to notice) from costing half a second per test.
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-stripe",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Test controls

    def fail_next(self, status: int, count: int = 1, *, code: str | None = None, message: str | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` and a Stripe error body, without executing them."""
        with self._lock:
            self._failures.extend([(status, code, message)] * count)

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Hold the next ``count`` requests this long before handling them (for client timeouts)."""
        with self._lock:
            self._delays.extend([seconds] * count)

    def lose_next_responses(self, count: int = 1) -> None:
        """Execute the next ``count`` requests but drop the connection instead of answering (a response lost on the
        way back: the intent exists, the client never heard of it)."""
        with self._lock:
            self._lose += count

    def count(self, method: str, path_prefix: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.method == method.upper() and r.path.startswith(path_prefix))

    def set_intent_status(
        self, intent_id: str, status: str, failure_code: str | None = None, *, decline_code: str | None = None
    ) -> Json:
        """Move an intent as a customer's payment would. ``succeeded`` makes its charge (``latest_charge``); a
        ``failure_code`` fills ``last_payment_error`` (a decline code such as ``insufficient_funds`` is reported as
        Stripe does: ``code=card_declined`` with that ``decline_code``)."""
        with self._lock:
            intent = self._intent(intent_id)
            intent["status"] = status
            if status == "succeeded":
                intent["amount_received"] = intent["amount"]
                intent["last_payment_error"] = None
                self._charge_for(intent)
            elif status == "canceled":
                intent["canceled_at"] = int(time.time())
                intent["cancellation_reason"] = intent.get("cancellation_reason") or "requested_by_customer"
            if failure_code is not None or decline_code is not None:
                if failure_code in DECLINE_CODES and decline_code is None:
                    failure_code, decline_code = "card_declined", failure_code
                intent["last_payment_error"] = {
                    "type": "card_error",
                    "code": failure_code,
                    "decline_code": decline_code,
                    "message": "Your card was declined.",
                }
            return copy.deepcopy(intent)

    def set_account(
        self,
        account_id: str,
        *,
        charges_enabled: bool = True,
        payouts_enabled: bool = True,
        details_submitted: bool = True,
        transfers: str = "active",
        card_payments: str | None = None,
        default_currency: str = "jpy",
    ) -> Json:
        """Set a connected account's onboarding state, creating it under this id when it does not exist yet."""
        with self._lock:
            account = self.accounts.get(account_id)
            if account is None:
                account = self.accounts[account_id] = self._new_account(account_id, {"type": "express"})
            account["charges_enabled"] = charges_enabled
            account["payouts_enabled"] = payouts_enabled
            account["details_submitted"] = details_submitted
            account["default_currency"] = default_currency
            account["capabilities"] = {
                "transfers": transfers,
                "card_payments": card_payments if card_payments is not None else transfers,
            }
            return copy.deepcopy(account)

    # Objects that webhook events carry

    def intent_object(self, intent_id: str) -> Json:
        with self._lock:
            return copy.deepcopy(self._intent(intent_id))

    def charge_object_for(self, intent_id: str, refunded: bool = True) -> Json:
        """The charge of a (succeeded) intent as ``charge.refunded`` carries it."""
        with self._lock:
            intent = self._intent(intent_id)
            charge = copy.deepcopy(self._charge_for(intent))
        charge["refunded"] = refunded
        charge["amount_refunded"] = charge["amount"] if refunded else 0
        return charge

    def dispute_object_for(self, intent_id: str) -> Json:
        """A dispute on an intent's charge as ``charge.dispute.created`` carries it."""
        with self._lock:
            intent = self._intent(intent_id)
            charge = self._charge_for(intent)
            return {
                "id": self._new_id("dp"),
                "object": "dispute",
                "amount": intent["amount"],
                "currency": intent["currency"],
                "charge": charge["id"],
                "payment_intent": intent["id"],
                "reason": "fraudulent",
                "status": "needs_response",
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "created": int(time.time()),
            }

    def event(
        self,
        type: str,
        obj: Json,
        *,
        event_id: str | None = None,
        created: int | None = None,
    ) -> bytes:
        return event(type, obj, event_id=event_id or self._new_id("evt"), created=created)

    @staticmethod
    def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
        return sign(payload, secret, timestamp)

    # Request handling (called from the server's threads)

    def _take_fault(self) -> tuple[float, tuple[int, str | None, str | None] | None]:
        with self._lock:
            delay = self._delays.pop(0) if self._delays else 0.0
            failure = self._failures.pop(0) if self._failures else None
            return delay, failure

    def _take_lose(self) -> bool:
        with self._lock:
            if self._lose:
                self._lose -= 1
                return True
            return False

    def handle(
        self, method: str, path: str, params: Json, authorization: str | None, idempotency_key: str | None
    ) -> tuple[int, Json, bool]:
        """One API call: (status, JSON body, replayed)."""
        with self._lock:
            self.requests.append(RecordedRequest(method, path, copy.deepcopy(params), idempotency_key))
        delay, failure = self._take_fault()
        if delay:
            time.sleep(delay)
        if failure is not None:
            return self._failure_response(*failure)
        if authorization != f"Bearer {self.api_key}":
            return 401, self._auth_error(authorization), False
        with self._lock:
            if idempotency_key and method == "POST":
                stored = self._idempotent.get(idempotency_key)
                if stored is not None:
                    if (stored.method, stored.path, stored.params) != (method, path, params):
                        error = StripeErrorResponse(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same parameters they were "
                            f"first used with. Try using a key other than '{idempotency_key}' if you meant to "
                            "execute a different request.",
                        )
                        return error.status, error.body, False
                    return stored.status, json.loads(stored.body), True
            try:
                status, body = self._route(method, path, params)
            except StripeErrorResponse as error:
                return error.status, error.body, False
            if idempotency_key and method == "POST":
                # Like Stripe, only requests that ran are saved; validation errors may be retried with the same key.
                self._idempotent[idempotency_key] = _Stored(method, path, params, status, json.dumps(body).encode())
            return status, body, False

    def _failure_response(self, status: int, code: str | None, message: str | None) -> tuple[int, Json, bool]:
        if status == 429:
            error = StripeErrorResponse(
                429,
                "invalid_request_error",
                message or "Too many requests hit the API too quickly.",
                code=code or "rate_limit",
            )
        elif status >= 500:
            error = StripeErrorResponse(status, "api_error", message or "An unknown error occurred", code=code)
        elif status == 402:
            error = StripeErrorResponse(
                402, "card_error", message or "Your card was declined.", code=code or "card_declined"
            )
        else:
            error = StripeErrorResponse(status, "invalid_request_error", message or "Invalid request.", code=code)
        return status, error.body, False

    def _auth_error(self, authorization: str | None) -> Json:
        if not authorization:
            message = "You did not provide an API key."
        else:
            key = authorization.removeprefix("Bearer ")
            # Stripe masks all but the last four characters of a wrong key.
            message = f"Invalid API Key provided: {key[:8]}{'*' * max(len(key) - 12, 0)}{key[-4:]}"
        return {"error": {"type": "invalid_request_error", "message": message}}

    def _route(self, method: str, path: str, params: Json) -> tuple[int, Json]:
        routes: list[tuple[str, str, Callable[..., Json]]] = [
            ("POST", r"/v1/payment_intents", self._create_intent),
            ("GET", r"/v1/payment_intents/([^/]+)", self._get_intent),
            ("POST", r"/v1/payment_intents/([^/]+)/cancel", self._cancel_intent),
            ("POST", r"/v1/refunds", self._create_refund),
            ("POST", r"/v1/accounts", self._create_account),
            ("GET", r"/v1/accounts/([^/]+)", self._get_account),
            ("POST", r"/v1/account_links", self._create_account_link),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match:
                if method != route_method:
                    break
                return 200, handler(params, *[urllib.parse.unquote(group) for group in match.groups()])
        raise StripeErrorResponse(
            404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).", code="resource_missing"
        )

    # Endpoints

    def _create_intent(self, params: Json) -> Json:
        amount = _positive_int(params.get("amount"), "amount")
        currency = str(params.get("currency") or "").lower()
        if currency not in CURRENCIES:
            raise _invalid(f"Invalid currency: {currency or '(missing)'}.", "currency")
        fee_raw = params.get("application_fee_amount")
        fee = _positive_int(fee_raw, "application_fee_amount", allow_zero=True) if fee_raw is not None else None
        transfer_data = params.get("transfer_data")
        destination = transfer_data.get("destination") if isinstance(transfer_data, dict) else None
        if fee is not None and destination is None:
            raise _invalid(
                "Can only apply an application_fee_amount when the PaymentIntent is attempting a direct payment "
                "(using an OAuth key or Stripe-Account header) or destination payment (using "
                "`transfer_data[destination]`).",
                "application_fee_amount",
            )
        if fee is not None and fee > amount:
            raise _invalid("application_fee_amount must be less than or equal to the amount.", "application_fee_amount")
        if destination is not None and destination not in self.accounts:
            raise _missing("destination", destination, "transfer_data[destination]")
        automatic = params.get("automatic_payment_methods")
        intent_id = self._new_id("pi")
        intent: Json = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "application_fee_amount": fee,
            "automatic_payment_methods": {"enabled": automatic.get("enabled") == "true"}
            if isinstance(automatic, dict)
            else None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic",
            "client_secret": f"{intent_id}_secret_{secrets.token_urlsafe(18)}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": currency,
            "customer": None,
            "description": params.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": dict(params.get("metadata") or {}),
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_types": ["card"],
            "status": "requires_payment_method",
            "transfer_data": {"destination": destination} if destination else None,
            "transfer_group": None,
        }
        self.intents[intent_id] = intent
        return copy.deepcopy(intent)

    def _get_intent(self, params: Json, intent_id: str) -> Json:
        return copy.deepcopy(self._intent(intent_id))

    def _cancel_intent(self, params: Json, intent_id: str) -> Json:
        intent = self._intent(intent_id)
        if intent["status"] not in CANCELABLE:
            raise StripeErrorResponse(
                400,
                "invalid_request_error",
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{intent['status']}. Only a PaymentIntent with one of the following statuses may be canceled: "
                "requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.",
                code="payment_intent_unexpected_state",
            ).with_object("payment_intent", intent)
        intent["status"] = "canceled"
        intent["canceled_at"] = int(time.time())
        intent["cancellation_reason"] = params.get("cancellation_reason")
        return copy.deepcopy(intent)

    def _create_refund(self, params: Json) -> Json:
        intent_id = params.get("payment_intent")
        if not intent_id:
            raise _invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
                "payment_intent",
                "parameter_missing",
            )
        intent = self.intents.get(intent_id)
        if intent is None:
            raise _missing("payment_intent", intent_id, "payment_intent")
        if intent["status"] != "succeeded":
            raise StripeErrorResponse(
                400,
                "invalid_request_error",
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                code="payment_intent_unexpected_state",
            ).with_object("payment_intent", intent)
        charge = self._charge_for(intent)
        if charge["refunded"]:
            raise StripeErrorResponse(
                400,
                "invalid_request_error",
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = _positive_int(params.get("amount", charge["amount"]), "amount")
        refund_id = self._new_id("re")
        refund: Json = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "created": int(time.time()),
            "currency": intent["currency"],
            "metadata": dict(params.get("metadata") or {}),
            "payment_intent": intent_id,
            "reason": params.get("reason"),
            "status": "succeeded",
            # Not Stripe's refund fields: what this refund was asked to take back, for assertions.
            "reverse_transfer": params.get("reverse_transfer") == "true",
            "refund_application_fee": params.get("refund_application_fee") == "true",
        }
        self.refunds[refund_id] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        return copy.deepcopy(refund)

    def _create_account(self, params: Json) -> Json:
        account_type = params.get("type")
        if account_type not in (None, "express", "standard", "custom"):
            raise _invalid("Invalid type: must be one of custom, express, or standard", "type")
        account = self._new_account(self._new_id("acct"), params)
        self.accounts[account["id"]] = account
        return copy.deepcopy(account)

    def _get_account(self, params: Json, account_id: str) -> Json:
        account = self.accounts.get(account_id)
        if account is None:
            raise _missing("account", account_id)
        return copy.deepcopy(account)

    def _create_account_link(self, params: Json) -> Json:
        account_id = params.get("account")
        if not account_id:
            raise _invalid("Missing required param: account.", "account", "parameter_missing")
        if account_id not in self.accounts:
            raise _missing("account", account_id, "account")
        for name in ("refresh_url", "return_url"):
            if not params.get(name):
                raise _invalid(f"Missing required param: {name}.", name, "parameter_missing")
        if params.get("type") not in ("account_onboarding", "account_update"):
            raise _invalid("Invalid type: must be one of account_onboarding or account_update", "type")
        created = int(time.time())
        return {
            "object": "account_link",
            "created": created,
            "expires_at": created + 300,
            "url": f"{self.url}/setup/e/{account_id}/{secrets.token_urlsafe(12)}",
        }

    # Helpers (under the lock)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):016d}"

    def _intent(self, intent_id: str) -> Json:
        intent = self.intents.get(intent_id)
        if intent is None:
            raise _missing("payment_intent", intent_id)
        return intent

    def _charge_for(self, intent: Json) -> Json:
        charge_id = intent.get("latest_charge")
        if charge_id and charge_id in self.charges:
            charge: Json = self.charges[charge_id]
            return charge
        charge = {
            "id": self._new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"],
            "amount_refunded": 0,
            "application_fee_amount": intent.get("application_fee_amount"),
            "created": int(time.time()),
            "currency": intent["currency"],
            "disputed": False,
            "livemode": False,
            "metadata": copy.deepcopy(intent.get("metadata") or {}),
            "paid": True,
            "payment_intent": intent["id"],
            "refunded": False,
            "status": "succeeded",
            "transfer_data": copy.deepcopy(intent.get("transfer_data")),
        }
        self.charges[charge["id"]] = charge
        intent["latest_charge"] = charge["id"]
        return charge

    def _new_account(self, account_id: str, params: Json) -> Json:
        requested = params.get("capabilities") or {}
        return {
            "id": account_id,
            "object": "account",
            "type": params.get("type", "express"),
            "business_type": None,
            # Requested capabilities wait for onboarding; unrequested ones are absent.
            "capabilities": {name: "inactive" for name, value in requested.items() if isinstance(value, dict)},
            "charges_enabled": False,
            "country": params.get("country", "JP"),
            "created": int(time.time()),
            "default_currency": params.get("default_currency", "jpy"),
            "details_submitted": False,
            "email": params.get("email"),
            "metadata": dict(params.get("metadata") or {}),
            "payouts_enabled": False,
            # Not part of Stripe's account object: what was requested, for assertions.
            "requested_capabilities": {
                name: value.get("requested") for name, value in requested.items() if isinstance(value, dict)
            },
        }


def _positive_int(value: Any, param: str, *, allow_zero: bool = False) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise _invalid(f"Invalid integer: {value}", param, "parameter_invalid_integer") from None
    if number < 0 or (number == 0 and not allow_zero):
        raise _invalid(f"This value must be greater than or equal to {0 if allow_zero else 1}.", param)
    return number


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that timed out and hung up on a delayed request is expected, not a failure."""


class _Handler(BaseHTTPRequestHandler):
    stripe_fake: FakeStripe
    server_version = "stripe-fake"

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        params = decode_form(body if method == "POST" else url.query)
        fake = self.stripe_fake
        status, payload, replayed = fake.handle(
            method, url.path, params, self.headers.get("Authorization"), self.headers.get("Idempotency-Key")
        )
        if fake._take_lose():
            # Closing without a status line: the client sees the connection drop after the work was done.
            self.close_connection = True
            return
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
        self.send_header("Stripe-Version", API_VERSION)
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        idempotency_key = self.headers.get("Idempotency-Key")
        if idempotency_key:
            self.send_header("Idempotency-Key", idempotency_key)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``FakeStripe.requests`` instead."""


@contextmanager
def running_fake_stripe(api_key: str = API_KEY) -> Iterator[FakeStripe]:
    fake = FakeStripe(api_key)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
