// The player: hls.js with adaptive quality (and a manual menu), tuned for low latency when live; the same
// player plays a finished recording (an archive's VOD playlist) with a seek bar and its duration.
// Falls back to the browser's own HLS only where hls.js cannot run (no Media Source Extensions).
import Hls, { ErrorTypes, Events, type ErrorData, type HlsConfig } from "hls.js";
// hls.js's ES module build has no inline worker; this ships its transmuxing worker as a same-origin file
// (CSP worker-src 'self'), so demuxing does not run on the page's main thread.
import hlsWorkerUrl from "hls.js/dist/hls.worker.js?url";
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { QualityMenu } from "./QualityMenu";
import { AUTO, qualityOptions, type QualityOption } from "./quality";

/** Keep playback this many segments behind the live edge. */
const SYNC_SEGMENTS = 2;
/** Further behind than this many segments (e.g. after a stall), jump back to the sync point. */
const MAX_LATENCY_SEGMENTS = 6;
/** Until the playlist says otherwise, assume the server's default one-second segments. */
const DEFAULT_SEGMENT_S = 1;
/** After a fatal error, start over this much later. */
const RETRY_MS = 3_000;
const MEDIA_RECOVERIES = 2;

export const PLAYER_CONFIG: Partial<HlsConfig> = {
  lowLatencyMode: true,
  liveSyncDuration: SYNC_SEGMENTS * DEFAULT_SEGMENT_S,
  liveMaxLatencyDuration: MAX_LATENCY_SEGMENTS * DEFAULT_SEGMENT_S,
  maxLiveSyncPlaybackRate: 1.5,
  backBufferLength: 30,
  enableWorker: true,
  workerPath: hlsWorkerUrl,
  capLevelToPlayerSize: false,
};

/** A recording: no live-edge tuning; keep more behind the playhead for seeking back. */
export const VOD_CONFIG: Partial<HlsConfig> = {
  lowLatencyMode: false,
  backBufferLength: 90,
  enableWorker: true,
  workerPath: hlsWorkerUrl,
  capLevelToPlayerSize: false,
};

/** The server refused the playlist (a 4xx): what it said. */
export interface Refusal {
  status: number;
  /** The `code` of the server's JSON error body (e.g. ARCHIVE_COLD), when there was one. */
  code: string | null;
}

/** The `code` of a JSON error body, if it is one. */
function errorCode(text: string): string | null {
  try {
    const body: unknown = JSON.parse(text);
    const code = typeof body === "object" && body !== null ? (body as { code?: unknown }).code : undefined;
    return typeof code === "string" ? code : null;
  } catch {
    return null;
  }
}

/** The error code in a refused load's JSON body, if hls.js kept the request (its XHR loader does). */
function refusalCode(data: ErrorData): string | null {
  const details = data.networkDetails as { responseText?: unknown } | null | undefined;
  return details && typeof details.responseText === "string" ? errorCode(details.responseText) : null;
}

/**
 * A recording the server will not serve: a 4xx that ends playback, or a 409 on any load (a playlist or a
 * segment: an archive in cold storage answers 409 ARCHIVE_COLD for whatever is asked of it).
 */
function isRefusal(data: ErrorData, status: number): boolean {
  return status >= 400 && status < 500 && (data.fatal || status === 409);
}

export interface BenchHandle {
  /** Wall-clock time (ms since the epoch) of the frame on screen, from EXT-X-PROGRAM-DATE-TIME. */
  playingDate: () => number | null;
  /** Seconds behind the live edge, as hls.js estimates it. */
  latency: () => number;
}

declare global {
  interface Window {
    __lsPlayer?: BenchHandle;
  }
}

export const HLS_MIME = "application/vnd.apple.mpegurl";

export type PlaybackEngine = "hls.js" | "native" | "none";

/** hls.js wherever it runs; the browser's own HLS only where it does not (Safari on iOS). */
export function pickEngine(video: HTMLVideoElement, hlsSupported = Hls.isSupported()): PlaybackEngine {
  if (hlsSupported) return "hls.js";
  return video.canPlayType(HLS_MIME) ? "native" : "none";
}

interface Props {
  src: string;
  /** Accessible name of the video. */
  label: string;
  /** A finished recording (VOD playlist): seekable, with no live tuning and no latency probe. */
  vod?: boolean;
  /** An image shown until the video plays. */
  poster?: string | null;
  /**
   * The server refused a recording (4xx; e.g. 409 ARCHIVE_COLD): the player stops instead of starting over,
   * and tells the page, which may show something better than its own failure message.
   */
  onRefused?: (refusal: Refusal) => void;
  /** Small, muted, no quality menu or unmute prompt: the dashboard preview. */
  compact?: boolean;
  /** Expose window.__lsPlayer for the latency benchmark. */
  bench?: boolean;
  testId?: string;
  /** Overlays drawn over the video, e.g. "Reconnecting…". */
  children?: ReactNode;
}

export function LivePlayer({
  src,
  label,
  vod = false,
  poster = null,
  onRefused,
  compact = false,
  bench = false,
  testId = "player",
  children,
}: Props) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const hlsRef = useRef<Hls | null>(null);
  const onRefusedRef = useRef(onRefused);
  onRefusedRef.current = onRefused;
  /** Where a recording was when hls.js had to start over (it picks up there, not from the start). */
  const resumeAtRef = useRef(0);
  const resumeSrcRef = useRef(src);
  const [attempt, setAttempt] = useState(0);
  const [options, setOptions] = useState<QualityOption[]>([]);
  const [selected, setSelected] = useState(AUTO);
  // The viewer's choice outlives a restart of hls.js after an error.
  const selectedRef = useRef(AUTO);
  const [playing, setPlaying] = useState<number | null>(null);
  const [muted, setMuted] = useState(true);
  const [blocked, setBlocked] = useState(false);
  const [buffering, setBuffering] = useState(true);
  const [failure, setFailure] = useState<string | null>(null);
  /** hls.js gave up on a load and the player is starting over. */
  const [trouble, setTrouble] = useState(false);

  const start = useCallback(() => {
    const video = videoRef.current;
    if (!video) return;
    video.play().then(
      () => setBlocked(false),
      (err: unknown) => {
        // A newer load() interrupting this play() is not a refusal.
        if (err instanceof DOMException && err.name === "NotAllowedError") setBlocked(true);
      },
    );
  }, []);

  useEffect(() => {
    const video = videoRef.current;
    if (!video) return;
    const engine = pickEngine(video);
    setFailure(null);

    if (engine === "none") {
      setFailure(
        `This browser cannot play ${vod ? "this video" : "live video"}. Try a recent Chrome, Firefox, Edge or Safari.`,
      );
      return;
    }
    if (engine === "native") {
      // The browser does not say why a load failed: for a recording, ask the playlist once to find out.
      let active = true;
      const onError = () => {
        if (!vod) return;
        fetch(src, { credentials: "same-origin" }).then(
          async (response) => {
            if (!active || response.status < 400 || response.status >= 500) return;
            setFailure("This video cannot be played right now.");
            onRefusedRef.current?.({ status: response.status, code: errorCode(await response.text()) });
          },
          () => {},
        );
      };
      video.addEventListener("error", onError);
      video.src = src;
      start();
      return () => {
        active = false;
        video.removeEventListener("error", onError);
        video.removeAttribute("src");
        video.load();
      };
    }

    if (resumeSrcRef.current !== src) {
      resumeSrcRef.current = src;
      resumeAtRef.current = 0;
    }
    const resumeAt = resumeAtRef.current;
    const hls = new Hls(vod ? { ...VOD_CONFIG, ...(resumeAt > 0 ? { startPosition: resumeAt } : {}) } : PLAYER_CONFIG);
    hlsRef.current = hls;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let recoveries = 0;
    let tuned = false;

    hls.on(Events.MANIFEST_PARSED, () => {
      setOptions(qualityOptions(hls.levels));
      if (selectedRef.current !== AUTO) {
        if (selectedRef.current < hls.levels.length) hls.currentLevel = selectedRef.current;
        else setSelected((selectedRef.current = AUTO));
      }
      start();
    });
    hls.on(Events.LEVELS_UPDATED, () => setOptions(qualityOptions(hls.levels)));
    hls.on(Events.LEVEL_SWITCHED, (_event, data) => setPlaying(data.level));
    hls.on(Events.LEVEL_UPDATED, (_event, { details }) => {
      // Two segments behind the edge, whatever segment length the server uses.
      if (tuned || !details.live || !(details.targetduration > 0)) return;
      tuned = true;
      hls.config.liveMaxLatencyDuration = MAX_LATENCY_SEGMENTS * details.targetduration;
      hls.targetLatency = SYNC_SEGMENTS * details.targetduration;
    });
    hls.on(Events.FRAG_BUFFERED, () => {
      recoveries = 0;
    });
    hls.on(Events.ERROR, (_event, data) => {
      const status = data.response?.code ?? 0;
      if (vod && isRefusal(data, status)) {
        // Gone, or in cold storage: asking again changes nothing.
        clearTimeout(retry);
        hls.destroy();
        if (hlsRef.current === hls) hlsRef.current = null;
        setBuffering(false);
        setFailure("This video cannot be played right now.");
        onRefusedRef.current?.({ status, code: refusalCode(data) });
        return;
      }
      if (!data.fatal) return;
      if (data.type === ErrorTypes.MEDIA_ERROR && recoveries < MEDIA_RECOVERIES) {
        recoveries += 1;
        hls.recoverMediaError();
        return;
      }
      // Network trouble or worse: start over in a moment (the stream may be between segments).
      if (vod) resumeAtRef.current = video.currentTime;
      hls.destroy();
      if (hlsRef.current === hls) hlsRef.current = null;
      setBuffering(true);
      setTrouble(true);
      retry = setTimeout(() => setAttempt((n) => n + 1), RETRY_MS);
    });

    hls.attachMedia(video);
    hls.loadSource(src);
    if (bench && !vod) {
      window.__lsPlayer = {
        playingDate: () => hls.playingDate?.getTime() ?? null,
        latency: () => hls.latency,
      };
    }
    return () => {
      clearTimeout(retry);
      hls.destroy();
      if (hlsRef.current === hls) hlsRef.current = null;
      if (bench && !vod) delete window.__lsPlayer;
    };
  }, [src, vod, attempt, bench, start]);

  useEffect(() => {
    const video = videoRef.current;
    if (!video) return;
    const onVolume = () => setMuted(video.muted || video.volume === 0);
    const onWaiting = () => setBuffering(true);
    const onPlaying = () => {
      setBuffering(false);
      setBlocked(false);
      setTrouble(false);
    };
    video.addEventListener("volumechange", onVolume);
    video.addEventListener("waiting", onWaiting);
    video.addEventListener("playing", onPlaying);
    onVolume();
    return () => {
      video.removeEventListener("volumechange", onVolume);
      video.removeEventListener("waiting", onWaiting);
      video.removeEventListener("playing", onPlaying);
    };
  }, []);

  const choose = (value: number) => {
    selectedRef.current = value;
    setSelected(value);
    if (hlsRef.current) hlsRef.current.currentLevel = value;
  };

  const unmute = () => {
    const video = videoRef.current;
    if (!video) return;
    video.muted = false;
    if (video.volume === 0) video.volume = 1;
    start();
  };

  return (
    <div className={`player${compact ? " player--compact" : ""}`}>
      <video
        ref={videoRef}
        className="player-video"
        data-testid={testId}
        data-mode={vod ? "vod" : "live"}
        aria-label={label}
        poster={poster ?? undefined}
        // Autoplay is only allowed muted; the viewer unmutes with one click.
        muted
        playsInline
        controls={!compact}
      />
      {buffering && !failure && !blocked ? <span className="player-spinner spinner" aria-hidden="true" /> : null}
      {trouble && !failure ? (
        <p className="player-trouble" role="status" data-testid="player-trouble">
          The video is not loading yet. Trying again…
        </p>
      ) : null}
      {failure ? (
        <div className="player-overlay" role="alert">
          <p>{failure}</p>
        </div>
      ) : null}
      {blocked && !failure ? (
        <button type="button" className="player-play" onClick={start}>
          <svg width="28" height="28" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M8 5v14l11-7z" fill="currentColor" />
          </svg>
          Play
        </button>
      ) : null}
      {!compact && !failure ? (
        <div className="player-chips">
          {muted ? (
            <button type="button" className="player-chip player-chip--strong" data-testid="unmute-button" onClick={unmute}>
              <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true">
                <path d="M2 6h3l4-3v10l-4-3H2z" fill="currentColor" />
                <path d="m11 6 4 4m0-4-4 4" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" />
              </svg>
              Unmute
            </button>
          ) : (
            <span />
          )}
          {options.length > 2 ? (
            <QualityMenu options={options} selected={selected} playing={playing} onSelect={choose} />
          ) : null}
        </div>
      ) : null}
      {children}
    </div>
  );
}
