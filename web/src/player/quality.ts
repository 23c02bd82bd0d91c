// The quality menu: hls.js levels → "Auto" plus one entry per rendition, highest first.

/** What the menu needs of an hls.js Level. */
export interface LevelInfo {
  height?: number;
  width?: number;
  bitrate: number;
  name?: string;
}

export interface QualityOption {
  /** The hls.js level index (`hls.currentLevel`), or AUTO. */
  value: number;
  label: string;
}

export const AUTO = -1;

function kbps(bitrate: number): string {
  return bitrate >= 1_000_000 ? `${(bitrate / 1_000_000).toFixed(1)} Mbps` : `${Math.round(bitrate / 1000)} kbps`;
}

/** A short name for one level: its height (720p), else the playlist's NAME, else its bitrate. */
export function levelLabel(level: LevelInfo): string {
  if (level.height && level.height > 0) return `${level.height}p`;
  if (level.name && !/^\d+$/.test(level.name)) return level.name;
  return kbps(level.bitrate);
}

/**
 * Menu entries for the levels: Auto first, then the levels from the highest resolution (and bitrate) down.
 * Two levels with the same height are told apart by their bitrate.
 */
export function qualityOptions(levels: readonly LevelInfo[]): QualityOption[] {
  const entries = levels.map((level, index) => ({ level, index, label: levelLabel(level) }));
  entries.sort((a, b) => (b.level.height ?? 0) - (a.level.height ?? 0) || b.level.bitrate - a.level.bitrate);
  const counts = new Map<string, number>();
  for (const e of entries) counts.set(e.label, (counts.get(e.label) ?? 0) + 1);
  const options = entries.map(({ level, index, label }) => ({
    value: index,
    label: (counts.get(label) ?? 0) > 1 ? `${label} · ${kbps(level.bitrate)}` : label,
  }));
  return levels.length > 0 ? [{ value: AUTO, label: "Auto" }, ...options] : [];
}

/** The label on the menu button: the chosen level, or "Auto (720p)" with what ABR plays right now. */
export function selectedLabel(options: readonly QualityOption[], selected: number, playing: number | null): string {
  const find = (value: number | null) => options.find((o) => o.value === value)?.label;
  if (selected !== AUTO) return find(selected) ?? "Auto";
  const now = playing !== null && playing >= 0 ? find(playing) : undefined;
  return now ? `Auto (${now})` : "Auto";
}
