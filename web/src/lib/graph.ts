// Scaling for the dashboard's bitrate graph: samples → an SVG polyline, with no chart library.

export const GRAPH_SAMPLES = 60;

/** The smallest 1, 2 or 5 × 10^n that is at least `value` (so the axis reads 2000, 5000, 10000…). */
export function niceCeiling(value: number): number {
  if (!Number.isFinite(value) || value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

export interface GraphGeometry {
  width: number;
  height: number;
  /** Empty space kept above and below the line, in the same units. */
  padding?: number;
  /** How many samples the full width holds; newer samples push older ones off the left edge. */
  capacity?: number;
}

export interface Graph {
  /** The `points` attribute of the <polyline>; empty with fewer than two samples. */
  points: string;
  /** The `points` of a <polygon> that fills the area under the line down to the bottom edge. */
  area: string;
  /** The value at the top of the graph. */
  max: number;
}

const round = (n: number) => Math.round(n * 10) / 10;

/**
 * Place the last `capacity` samples right-aligned (the newest on the right edge), scaled so the largest
 * fits under a round maximum. Negative or missing values count as zero.
 */
export function scaleGraph(samples: readonly number[], { width, height, padding = 2, capacity = GRAPH_SAMPLES }: GraphGeometry): Graph {
  const values = samples.slice(-capacity).map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
  const max = niceCeiling(Math.max(0, ...values));
  if (values.length < 2) return { points: "", area: "", max };
  const step = width / (capacity - 1);
  const usable = height - 2 * padding;
  const points = values.map((v, i) => {
    const x = width - (values.length - 1 - i) * step;
    const y = height - padding - (v / max) * usable;
    return `${round(x)},${round(y)}`;
  });
  const firstX = round(width - (values.length - 1) * step);
  const line = points.join(" ");
  return { points: line, area: `${firstX},${height} ${line} ${width},${height}`, max };
}

/** Append a sample, keeping at most `capacity`. */
export function pushSample(samples: readonly number[], value: number, capacity = GRAPH_SAMPLES): number[] {
  const next = [...samples, value];
  return next.length > capacity ? next.slice(next.length - capacity) : next;
}
