const numberFormat = new Intl.NumberFormat("en-US");
const monthYear = new Intl.DateTimeFormat("en-US", { month: "long", year: "numeric" });

export function formatCount(n: number): string {
  return numberFormat.format(n);
}

export function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

export function formatJoined(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : monthYear.format(date);
}
