import { describe, expect, it } from "vitest";
import { GRAPH_SAMPLES, niceCeiling, pushSample, scaleGraph } from "./graph";

const parse = (points: string) => points.split(" ").map((p) => p.split(",").map(Number) as [number, number]);

describe("bitrate graph scaling", () => {
  it("rounds the top of the scale up to 1, 2 or 5 times a power of ten", () => {
    expect(niceCeiling(4321)).toBe(5000);
    expect(niceCeiling(5000)).toBe(5000);
    expect(niceCeiling(5001)).toBe(10000);
    expect(niceCeiling(1500)).toBe(2000);
    expect(niceCeiling(0.3)).toBe(0.5);
    expect(niceCeiling(0)).toBe(1);
    expect(niceCeiling(Number.NaN)).toBe(1);
  });

  it("maps values onto the height, larger values higher up, inside the padding", () => {
    const { points, max } = scaleGraph([0, 2500, 5000], { width: 300, height: 80, padding: 2, capacity: 3 });
    expect(max).toBe(5000);
    expect(parse(points)).toEqual([
      [0, 78],
      [150, 40],
      [300, 2],
    ]);
  });

  it("keeps the newest sample on the right edge and spaces samples by the capacity", () => {
    const { points } = scaleGraph([1000, 1000], { width: 300, height: 80, capacity: 61 });
    const xs = parse(points).map(([x]) => x);
    expect(xs).toEqual([295, 300]);
  });

  it("shows only the last `capacity` samples", () => {
    const samples = Array.from({ length: 100 }, (_, i) => i);
    const { points, max } = scaleGraph(samples, { width: 590, height: 100, capacity: GRAPH_SAMPLES });
    const pts = parse(points);
    expect(pts).toHaveLength(GRAPH_SAMPLES);
    expect(pts[0]![0]).toBe(0);
    expect(pts.at(-1)![0]).toBe(590);
    expect(max).toBe(100);
  });

  it("draws nothing with fewer than two samples, and treats bad values as zero", () => {
    expect(scaleGraph([], { width: 100, height: 50 })).toEqual({ points: "", area: "", max: 1 });
    expect(scaleGraph([3000], { width: 100, height: 50 }).points).toBe("");
    const { points } = scaleGraph([Number.NaN, -5], { width: 100, height: 50, padding: 0, capacity: 2 });
    expect(parse(points)).toEqual([
      [0, 50],
      [100, 50],
    ]);
  });

  it("closes the area under the line along the bottom edge", () => {
    const { area } = scaleGraph([5000, 5000], { width: 300, height: 80, padding: 0, capacity: 3 });
    expect(area).toBe("150,80 150,0 300,0 300,80");
  });

  it("keeps at most `capacity` samples when appending", () => {
    let samples: number[] = [];
    for (let i = 0; i < 65; i++) samples = pushSample(samples, i);
    expect(samples).toHaveLength(GRAPH_SAMPLES);
    expect(samples[0]).toBe(5);
    expect(samples.at(-1)).toBe(64);
  });
});
