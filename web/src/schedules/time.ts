// Times of scheduled streams: the wire has UTC instants (ISO 8601); people see and type wall-clock times in
// the viewer's own time zone. Every conversion goes through Intl with an explicit zone, so what the form
// sends is what the list shows, whatever zone the machine (or a test) runs in.

let zoneOverride: string | null = null;

/** The viewer's IANA time zone ("Europe/Paris"); "UTC" when the browser does not say. */
export function viewerTimeZone(): string {
  if (zoneOverride) return zoneOverride;
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** Tests pin the viewer's zone with this (null: back to the browser's). */
export function setTimeZoneForTests(zone: string | null): void {
  zoneOverride = zone;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(key: string, make: () => Intl.DateTimeFormat): Intl.DateTimeFormat {
  let f = formatters.get(key);
  if (!f) {
    f = make();
    formatters.set(key, f);
  }
  return f;
}

/** "Tue, Dec 8, 2026, 7:00 PM GMT+1": the instant in `zone`, with the zone's short name. */
export function formatStart(iso: string, zone: string = viewerTimeZone()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return formatter(`start:${zone}`, () =>
    new Intl.DateTimeFormat("en-US", {
      weekday: "short",
      month: "short",
      day: "numeric",
      year: "numeric",
      hour: "numeric",
      minute: "2-digit",
      timeZone: zone,
      timeZoneName: "short",
    }),
  ).format(date);
}

type Wall = { year: number; month: number; day: number; hour: number; minute: number; second: number };

/** The wall-clock reading of `ms` in `zone`. */
function wallClock(ms: number, zone: string): Wall {
  const parts = formatter(`wall:${zone}`, () =>
    new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    }),
  ).formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? "0");
  return { year: get("year"), month: get("month"), day: get("day"), hour: get("hour") % 24, minute: get("minute"), second: get("second") };
}

/** How far `zone` is ahead of UTC at the instant `ms`, in milliseconds. */
function zoneOffset(ms: number, zone: string): number {
  const w = wallClock(ms, zone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - (ms - (ms % 1000));
}

const HALF_DAY = 12 * 3600 * 1000;

const LOCAL_INPUT_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/**
 * A `datetime-local` value ("2026-12-08T19:00"), read as a wall-clock time in `zone`, as an ISO 8601 UTC
 * instant ("2026-12-08T18:00:00Z"); null when it is not such a value. A time that a clock change skips
 * (02:30 on a spring-forward night) lands just after the gap, as clocks do.
 */
export function localInputToUtc(value: string, zone: string = viewerTimeZone()): string | null {
  const m = LOCAL_INPUT_RE.exec(value.trim());
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1).map((v) => Number(v ?? "0")) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  const guess = Date.UTC(year, month - 1, day, hour, minute, second);
  // The zone's offsets half a day either side: around a clock change they differ, otherwise they agree.
  const candidates = [guess - zoneOffset(guess - HALF_DAY, zone), guess - zoneOffset(guess + HALF_DAY, zone)];
  const matching = candidates.filter((c) => wallMatches(c, zone, hour, minute));
  // A time shown twice (autumn) is its first showing; a time skipped (spring) is read with the offset from
  // before the change, which lands just after the gap, as clocks do, whichever side of UTC the zone is.
  const ms = matching.length > 0 ? Math.min(...matching) : Math.max(...candidates);
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return null;
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function wallMatches(ms: number, zone: string, hour: number, minute: number): boolean {
  const w = wallClock(ms, zone);
  return w.hour === hour && w.minute === minute;
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** An instant as a `datetime-local` value in `zone` ("2026-12-08T19:00"); "" for a bad instant. */
export function utcToLocalInput(iso: string, zone: string = viewerTimeZone()): string {
  const ms = new Date(iso).getTime();
  if (Number.isNaN(ms)) return "";
  const w = wallClock(ms, zone);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}`;
}

/** "starts in 2 h 5 min", "starts in 3 days 4 h", "starts in 4 min 09 s"; "starting now" once it is time. */
export function countdownText(startsAt: string, now: number): string {
  const start = new Date(startsAt).getTime();
  if (Number.isNaN(start)) return "";
  const total = Math.floor((start - now) / 1000);
  if (total <= 0) return "starting now";
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (days > 0) return `starts in ${days} ${days === 1 ? "day" : "days"}${hours ? ` ${hours} h` : ""}`;
  if (hours > 0) return `starts in ${hours} h${minutes ? ` ${minutes} min` : ""}`;
  if (minutes > 0) return `starts in ${minutes} min ${pad(seconds)} s`;
  return `starts in ${seconds} s`;
}
