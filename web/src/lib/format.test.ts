import { describe, expect, it } from "vitest";
import { formatBytes, formatClock, formatDate } from "./format";

describe("formatting", () => {
  it("writes a length as h:mm:ss", () => {
    expect(formatClock(0)).toBe("0:00:00");
    expect(formatClock(45)).toBe("0:00:45");
    expect(formatClock(754)).toBe("0:12:34");
    expect(formatClock(3723)).toBe("1:02:03");
    expect(formatClock(36_000 + 59.9)).toBe("10:00:59");
    expect(formatClock(-5)).toBe("0:00:00");
    expect(formatClock(Number.NaN)).toBe("0:00:00");
  });

  it("writes a size in MB below a gigabyte, in GB from there (decimal units)", () => {
    expect(formatBytes(0)).toBe("0 MB");
    expect(formatBytes(20_000)).toBe("0.1 MB");
    expect(formatBytes(524_288_000)).toBe("524.3 MB");
    expect(formatBytes(999_949_999)).toBe("999.9 MB");
    expect(formatBytes(1_000_000_000)).toBe("1.00 GB");
    expect(formatBytes(12_345_678_901)).toBe("12.35 GB");
  });

  it("writes a date without the time", () => {
    expect(formatDate(new Date(2026, 2, 4, 12).toISOString())).toBe("Mar 4, 2026"); // noon, local time
    expect(formatDate("nonsense")).toBe("");
  });
});
