const HUES = 8;

function hueIndex(seed: string): number {
  let hash = 0;
  for (const ch of seed) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return hash % HUES;
}

export function initials(name: string): string {
  const parts = name.trim().split(/[\s_]+/).filter(Boolean);
  const letters = parts.length > 1 ? (parts[0]?.[0] ?? "") + (parts[1]?.[0] ?? "") : name.slice(0, 2);
  return letters.toUpperCase() || "?";
}

/** A round badge with the person's initials; the colour follows the username. */
export function Avatar({ username, name, size = "md" }: { username: string; name?: string | null; size?: "sm" | "md" | "lg" | "xl" }) {
  return (
    <span className={`avatar avatar--${size} avatar--hue-${hueIndex(username)}`} aria-hidden="true">
      {initials(name || username)}
    </span>
  );
}
