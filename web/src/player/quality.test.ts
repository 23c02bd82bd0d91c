import { describe, expect, it } from "vitest";
import { AUTO, levelLabel, qualityOptions, selectedLabel } from "./quality";

const ladder = [
  { height: 360, width: 640, bitrate: 800_000 },
  { height: 720, width: 1280, bitrate: 2_800_000 },
  { height: 480, width: 854, bitrate: 1_400_000 },
];

describe("quality menu", () => {
  it("lists Auto, then each level by height from the top, keeping hls.js level indexes", () => {
    expect(qualityOptions(ladder)).toEqual([
      { value: AUTO, label: "Auto" },
      { value: 1, label: "720p" },
      { value: 2, label: "480p" },
      { value: 0, label: "360p" },
    ]);
  });

  it("tells apart two levels of the same height by bitrate", () => {
    const options = qualityOptions([
      { height: 720, bitrate: 2_500_000 },
      { height: 720, bitrate: 4_500_000 },
    ]);
    expect(options.map((o) => [o.value, o.label])).toEqual([
      [AUTO, "Auto"],
      [1, "720p · 4.5 Mbps"],
      [0, "720p · 2.5 Mbps"],
    ]);
  });

  it("names a level without a resolution by its NAME or bitrate", () => {
    expect(levelLabel({ bitrate: 128_000, name: "audio only" })).toBe("audio only");
    expect(levelLabel({ bitrate: 850_000, name: "3" })).toBe("850 kbps");
    expect(levelLabel({ height: 0, bitrate: 1_200_000 })).toBe("1.2 Mbps");
  });

  it("has no entries before the manifest is parsed", () => {
    expect(qualityOptions([])).toEqual([]);
  });

  it("labels the button with the choice, or with what Auto plays now", () => {
    const options = qualityOptions(ladder);
    expect(selectedLabel(options, AUTO, null)).toBe("Auto");
    expect(selectedLabel(options, AUTO, 1)).toBe("Auto (720p)");
    expect(selectedLabel(options, 0, 1)).toBe("360p");
    expect(selectedLabel(options, 7, null)).toBe("Auto");
  });
});
