// Money as the API speaks it: integers in the currency's minor unit (Stripe's convention). JPY has no
// minor unit (¥500 is 500); USD and EUR count cents ($5.00 is 500). People type and read major units.

export type Currency = "JPY" | "USD" | "EUR";

/** Digits after the decimal point, as the server's CURRENCIES table says. */
export const CURRENCY_DIGITS: Record<Currency, number> = { JPY: 0, USD: 2, EUR: 2 };

/** A tip's message: at most this many characters (code points, as the server counts). */
export const TIP_MESSAGE_MAX = 200;

export function isCurrency(value: unknown): value is Currency {
  return typeof value === "string" && value in CURRENCY_DIGITS;
}

function digits(currency: string): number {
  return isCurrency(currency) ? CURRENCY_DIGITS[currency] : 2;
}

const formatters = new Map<string, Intl.NumberFormat>();

/** "¥500", "$5.00", "€12.50": the amount in minor units, for people. */
export function formatMoney(minor: number, currency: string): string {
  const d = digits(currency);
  let format = formatters.get(currency);
  if (!format) {
    try {
      format = new Intl.NumberFormat("en-US", { style: "currency", currency, minimumFractionDigits: d, maximumFractionDigits: d });
    } catch {
      // An unknown code from a newer server: still show the number.
      format = new Intl.NumberFormat("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
    }
    formatters.set(currency, format);
  }
  return format.format(minor / 10 ** d);
}

/** The amount as it goes back into an input: "500" for ¥500, "5.00" for 500 cents. */
export function toMajorInput(minor: number, currency: string): string {
  const d = digits(currency);
  return d === 0 ? String(minor) : (minor / 10 ** d).toFixed(d);
}

/** The symbol shown before the amount input. */
export function currencySymbol(currency: string): string {
  try {
    const part = new Intl.NumberFormat("en-US", { style: "currency", currency })
      .formatToParts(0)
      .find((p) => p.type === "currency");
    return part?.value ?? currency;
  } catch {
    return currency;
  }
}

export type ParsedAmount = { ok: true; minor: number } | { ok: false; error: string };

/**
 * What a person typed, in minor units. Accepts "500", "1,000", "5", "5.5", "5.00" and a leading
 * currency symbol; refuses fractions a currency does not have (¥5.5) and anything not a number. Done
 * on the digits as text, never through floating point, so 0.29 is 29 cents and not 28.999….
 */
export function parseAmount(input: string, currency: string): ParsedAmount {
  const d = digits(currency);
  // NFKC: a Japanese keyboard types full-width digits and signs ("１，０００", "￥５００").
  const text = input.normalize("NFKC").trim().replace(/^[¥$€]\s*/, "").replace(/,/g, "");
  if (text === "") return { ok: false, error: "Enter an amount." };
  const match = /^(\d+)(?:\.(\d*))?$/.exec(text);
  if (!match) return { ok: false, error: "Enter the amount as a number." };
  const whole = match[1]!;
  const fraction = (match[2] ?? "").replace(/0+$/, "");
  if (fraction.length > d) {
    return { ok: false, error: d === 0 ? `${currency} has no smaller unit: use whole ${currency} amounts.` : `Use at most ${d} decimal places.` };
  }
  const minor = Number(whole + fraction.padEnd(d, "0"));
  if (!Number.isSafeInteger(minor)) return { ok: false, error: "That amount is too large." };
  if (minor <= 0) return { ok: false, error: "Enter an amount above zero." };
  return { ok: true, minor };
}

/** Why `minor` is outside the creator's limits, or undefined when it is within them. */
export function checkBounds(minor: number, currency: string, min: number, max: number): string | undefined {
  if (minor < min) return `The smallest tip is ${formatMoney(min, currency)}.`;
  if (minor > max) return `The largest tip is ${formatMoney(max, currency)}.`;
  return undefined;
}

/** Parse and check in one go: the amount in minor units, or what is wrong with it. */
export function validateAmount(input: string, currency: string, min: number, max: number): ParsedAmount {
  const parsed = parseAmount(input, currency);
  if (!parsed.ok) return parsed;
  const error = checkBounds(parsed.minor, currency, min, max);
  return error ? { ok: false, error } : parsed;
}

/** Characters as the server counts them (code points, not UTF-16 units). */
export function messageLength(text: string): number {
  return [...text].length;
}
