import { afterEach, describe, expect, it } from "vitest";
import { countdownText, formatStart, localInputToUtc, setTimeZoneForTests, utcToLocalInput, viewerTimeZone } from "./time";

const NOW = Date.parse("2026-12-07T12:00:00Z");
const plus = (seconds: number) => new Date(NOW + seconds * 1000).toISOString();

describe("schedule times", () => {
  afterEach(() => setTimeZoneForTests(null));

  it("reads a typed wall-clock time in the viewer's zone as a UTC instant", () => {
    expect(localInputToUtc("2026-12-08T19:00", "Europe/Paris")).toBe("2026-12-08T18:00:00Z");
    expect(localInputToUtc("2026-12-08T13:00", "America/New_York")).toBe("2026-12-08T18:00:00Z");
    expect(localInputToUtc("2026-12-09T03:00", "Asia/Tokyo")).toBe("2026-12-08T18:00:00Z");
    expect(localInputToUtc("2026-12-08T23:30", "Asia/Kolkata")).toBe("2026-12-08T18:00:00Z");
    expect(localInputToUtc("2026-12-08T18:00", "UTC")).toBe("2026-12-08T18:00:00Z");
    // Summer time: Paris is UTC+2, New York UTC-4.
    expect(localInputToUtc("2027-07-01T20:00", "Europe/Paris")).toBe("2027-07-01T18:00:00Z");
    expect(localInputToUtc("2027-07-01T14:00", "America/New_York")).toBe("2027-07-01T18:00:00Z");
  });

  it("handles the nights the clocks change", () => {
    // 28 March 2027, Paris: 02:00 jumps to 03:00; 02:30 does not exist and lands after the gap.
    expect(localInputToUtc("2027-03-28T01:30", "Europe/Paris")).toBe("2027-03-28T00:30:00Z");
    expect(localInputToUtc("2027-03-28T03:30", "Europe/Paris")).toBe("2027-03-28T01:30:00Z");
    // 02:30 read with the offset from before the change: 03:30 CEST, east of UTC as west of it.
    expect(localInputToUtc("2027-03-28T02:30", "Europe/Paris")).toBe("2027-03-28T01:30:00Z");
    expect(localInputToUtc("2027-03-14T02:30", "America/New_York")).toBe("2027-03-14T07:30:00Z");
    // 31 October 2027, Paris: 03:00 goes back to 02:00; 02:30 happens twice: its first showing.
    expect(localInputToUtc("2027-10-31T02:30", "Europe/Paris")).toBe("2027-10-31T00:30:00Z");
    expect(localInputToUtc("2027-11-07T01:30", "America/New_York")).toBe("2027-11-07T05:30:00Z");
    expect(localInputToUtc("2027-10-31T04:00", "Europe/Paris")).toBe("2027-10-31T03:00:00Z");
  });

  it("refuses what is not a date and time", () => {
    for (const bad of ["", "tomorrow", "2026-12-08", "2026-13-01T10:00", "2026-12-08T25:00", "2026-12-08 19:00x"]) {
      expect(localInputToUtc(bad, "Europe/Paris")).toBeNull();
    }
  });

  it("shows an instant as the form's value in the viewer's zone, round trip included", () => {
    expect(utcToLocalInput("2026-12-08T18:00:00Z", "Europe/Paris")).toBe("2026-12-08T19:00");
    expect(utcToLocalInput("2026-12-08T18:00:00Z", "Asia/Tokyo")).toBe("2026-12-09T03:00");
    expect(utcToLocalInput("2026-12-08T18:00:00Z", "America/Los_Angeles")).toBe("2026-12-08T10:00");
    expect(utcToLocalInput("2026-12-08T00:05:00Z", "UTC")).toBe("2026-12-08T00:05");
    expect(utcToLocalInput("nonsense", "UTC")).toBe("");
    for (const zone of ["Europe/Paris", "America/New_York", "Asia/Kathmandu", "Pacific/Chatham"]) {
      const iso = "2027-05-17T09:45:00Z";
      expect(localInputToUtc(utcToLocalInput(iso, zone), zone)).toBe(iso);
    }
  });

  it("names the zone with the time", () => {
    expect(formatStart("2026-12-08T18:00:00Z", "Europe/Paris")).toBe("Tue, Dec 8, 2026, 7:00 PM GMT+1");
    expect(formatStart("2026-12-08T18:00:00Z", "America/New_York")).toBe("Tue, Dec 8, 2026, 1:00 PM EST");
    expect(formatStart("2026-12-08T18:00:00Z", "Asia/Tokyo")).toBe("Wed, Dec 9, 2026, 3:00 AM GMT+9");
    setTimeZoneForTests("UTC");
    expect(viewerTimeZone()).toBe("UTC");
    expect(formatStart("2026-12-08T18:00:00Z")).toBe("Tue, Dec 8, 2026, 6:00 PM UTC");
  });

  it("counts down in days, hours, minutes and seconds", () => {
    const start = plus(2 * 3600 + 5 * 60);
    expect(countdownText(start, NOW)).toBe("starts in 2 h 5 min");
    expect(countdownText(start, NOW + 1000)).toBe("starts in 2 h 4 min");
    expect(countdownText(plus(3 * 3600), NOW)).toBe("starts in 3 h");
    expect(countdownText(plus(86_400 + 4 * 3600 + 59), NOW)).toBe("starts in 1 day 4 h");
    expect(countdownText(plus(3 * 86_400), NOW)).toBe("starts in 3 days");
    expect(countdownText(plus(4 * 60 + 9), NOW)).toBe("starts in 4 min 09 s");
    expect(countdownText(plus(45), NOW)).toBe("starts in 45 s");
    expect(countdownText(plus(0.5), NOW)).toBe("starting now");
    expect(countdownText(plus(-120), NOW)).toBe("starting now");
    expect(countdownText("not a date", NOW)).toBe("");
  });
});
