// A stand-in for hls.js: records what the player asks of it and lets a test fire its events.
// Use it with `vi.mock("hls.js", () => import("../test/fakeHls"))`, and reach the instances with hlsInstances().

type Handler = (event: string, data: unknown) => void;

export class FakeHls {
  static instances: FakeHls[] = [];
  /** false: as in Safari on iOS, where the player falls back to the browser's own HLS. */
  static supported = true;
  static isSupported() {
    return FakeHls.supported;
  }
  config: Record<string, unknown>;
  levels = [
    { height: 360, width: 640, bitrate: 800_000 },
    { height: 720, width: 1280, bitrate: 2_800_000 },
    { height: 480, width: 854, bitrate: 1_400_000 },
  ];
  currentLevel = -1;
  targetLatency: number | null = null;
  latency = 2.4;
  playingDate = new Date(1_772_654_400_000);
  source: string | null = null;
  media: HTMLMediaElement | null = null;
  destroyed = false;
  recoveries = 0;
  handlers = new Map<string, Handler[]>();
  constructor(config: Record<string, unknown>) {
    this.config = { ...config };
    FakeHls.instances.push(this);
  }
  on(event: string, handler: Handler) {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), handler]);
  }
  emit(event: string, data: unknown = {}) {
    for (const handler of this.handlers.get(event) ?? []) handler(event, data);
  }
  attachMedia(media: HTMLMediaElement) {
    this.media = media;
  }
  loadSource(src: string) {
    this.source = src;
  }
  recoverMediaError() {
    this.recoveries += 1;
  }
  destroy() {
    this.destroyed = true;
  }
}

export default FakeHls;

export const Events = {
  MANIFEST_PARSED: "hlsManifestParsed",
  LEVELS_UPDATED: "hlsLevelsUpdated",
  LEVEL_SWITCHED: "hlsLevelSwitched",
  LEVEL_UPDATED: "hlsLevelUpdated",
  FRAG_BUFFERED: "hlsFragBuffered",
  ERROR: "hlsError",
};

export const ErrorTypes = { MEDIA_ERROR: "mediaError", NETWORK_ERROR: "networkError" };

export const ErrorDetails = {
  MANIFEST_LOAD_ERROR: "manifestLoadError",
  LEVEL_LOAD_ERROR: "levelLoadError",
  BUFFER_STALLED_ERROR: "bufferStalledError",
};

/** The mocked module's class (not this file's copy, which vitest may load separately). */
export async function mockedHls(): Promise<typeof FakeHls> {
  return ((await import("hls.js")) as unknown as { default: typeof FakeHls }).default;
}

/** The fakes the player made since the last reset. */
export async function hlsInstances(): Promise<FakeHls[]> {
  return (await mockedHls()).instances;
}
