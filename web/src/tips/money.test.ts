import { describe, expect, it } from "vitest";
import { checkBounds, formatMoney, parseAmount, toMajorInput, validateAmount } from "./money";

describe("tip amounts", () => {
  it("reads JPY as whole yen: ¥500 is 500", () => {
    expect(parseAmount("500", "JPY")).toEqual({ ok: true, minor: 500 });
    expect(parseAmount("¥1,000", "JPY")).toEqual({ ok: true, minor: 1000 });
    // Full-width, as a Japanese input method types them.
    expect(parseAmount("１，０００", "JPY")).toEqual({ ok: true, minor: 1000 });
    expect(parseAmount("￥５００", "JPY")).toEqual({ ok: true, minor: 500 });
    expect(parseAmount("500.", "JPY")).toEqual({ ok: true, minor: 500 });
    expect(parseAmount("500.00", "JPY")).toEqual({ ok: true, minor: 500 });
    expect(parseAmount("5.5", "JPY")).toEqual({ ok: false, error: "JPY has no smaller unit: use whole JPY amounts." });
  });

  it("reads USD and EUR in cents: 5.00 is 500, without floating-point drift", () => {
    expect(parseAmount("5.00", "USD")).toEqual({ ok: true, minor: 500 });
    expect(parseAmount("5", "USD")).toEqual({ ok: true, minor: 500 });
    expect(parseAmount("5.5", "EUR")).toEqual({ ok: true, minor: 550 });
    expect(parseAmount("$0.29", "USD")).toEqual({ ok: true, minor: 29 });
    expect(parseAmount("1.005", "USD")).toEqual({ ok: false, error: "Use at most 2 decimal places." });
  });

  it("refuses what is not a positive number", () => {
    expect(parseAmount("", "JPY")).toMatchObject({ ok: false, error: "Enter an amount." });
    expect(parseAmount("abc", "JPY")).toMatchObject({ ok: false });
    expect(parseAmount("-5", "USD")).toMatchObject({ ok: false });
    expect(parseAmount("1e3", "JPY")).toMatchObject({ ok: false });
    expect(parseAmount("0", "JPY")).toMatchObject({ ok: false, error: "Enter an amount above zero." });
    expect(parseAmount("99999999999999999999", "JPY")).toMatchObject({ ok: false, error: "That amount is too large." });
  });

  it("checks the creator's limits, inclusive, and says them in the currency", () => {
    expect(checkBounds(100, "JPY", 100, 50000)).toBeUndefined();
    expect(checkBounds(50000, "JPY", 100, 50000)).toBeUndefined();
    expect(checkBounds(99, "JPY", 100, 50000)).toBe("The smallest tip is ¥100.");
    expect(checkBounds(50001, "JPY", 100, 50000)).toBe("The largest tip is ¥50,000.");
    expect(checkBounds(99, "USD", 100, 50000)).toBe("The smallest tip is $1.00.");
    expect(validateAmount("0.99", "USD", 100, 50000)).toEqual({ ok: false, error: "The smallest tip is $1.00." });
    expect(validateAmount("500.01", "EUR", 100, 50000)).toEqual({ ok: false, error: "The largest tip is €500.00." });
    expect(validateAmount("12.34", "EUR", 100, 50000)).toEqual({ ok: true, minor: 1234 });
  });

  it("formats minor units for people, and back into an input", () => {
    expect(formatMoney(500, "JPY")).toBe("¥500");
    expect(formatMoney(12345, "JPY")).toBe("¥12,345");
    expect(formatMoney(500, "USD")).toBe("$5.00");
    expect(formatMoney(1250, "EUR")).toBe("€12.50");
    expect(toMajorInput(500, "JPY")).toBe("500");
    expect(toMajorInput(500, "USD")).toBe("5.00");
  });
});
