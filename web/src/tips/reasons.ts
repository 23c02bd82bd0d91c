// What to tell a viewer whose payment did not go through, from the provider's code.
import { ApiError, errorMessage } from "../api/errors";
import { formatMoney } from "./money";

const DECLINES: Record<string, string> = {
  card_declined: "Your card was declined.",
  generic_decline: "Your card was declined.",
  insufficient_funds: "Your card has insufficient funds.",
  expired_card: "Your card has expired.",
  incorrect_cvc: "The card's security code is incorrect.",
  incorrect_number: "The card number is incorrect.",
  processing_error: "The card could not be processed. Try again in a moment.",
  lost_card: "Your card was declined.",
  stolen_card: "Your card was declined.",
  fraudulent: "Your card was declined.",
  authentication_required: "Your bank asked for authentication that did not complete.",
  payment_intent_authentication_failure: "Your bank asked for authentication that did not complete.",
};

/** A sentence for a decline: the provider's own message when it has one, else one for its code. */
export function declineText(code: string | null | undefined, message?: string | null): string {
  if (message && message.trim()) return message;
  return (code && DECLINES[code]) ?? "The payment did not go through.";
}

/** Errors from POST /api/transactions, in words a viewer can act on. */
export function tipErrorText(error: unknown): string {
  if (!(error instanceof ApiError)) return errorMessage(error);
  switch (error.code) {
    case "NETWORK_ERROR":
      return "Could not reach the server. Check your connection and send again: you will not be charged twice.";
    case "STREAM_NOT_TIPPABLE":
      return "This stream can no longer receive tips: tips are open while it is live and for an hour after it ends.";
    case "RECIPIENT_NOT_ONBOARDED":
      return "This creator cannot receive tips yet: they have not finished setting up payouts.";
    case "CANNOT_TIP_SELF":
      return "You cannot tip yourself.";
    case "BANNED":
      return "You are banned from this creator's chat, so you cannot tip them.";
    case "PAYMENTS_DISABLED":
      return "Tips are turned off on this server.";
    case "PAYMENT_PROVIDER_ERROR":
      return "The payment provider did not answer. Nothing was charged: try again in a moment.";
    default:
      return errorMessage(error);
  }
}

/** "¥100–¥50,000" */
export function rangeText(min: number, max: number, currency: string): string {
  return `${formatMoney(min, currency)}–${formatMoney(max, currency)}`;
}
