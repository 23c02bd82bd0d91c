import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { ApiError, errorMessage, formErrors } from "../api/errors";
import {
  useCreateStream,
  useEndStream,
  useMyLiveStream,
  useRotateStreamKey,
  useStreamHealth,
  useStreamKey,
  useUpdateStream,
} from "../api/streams";
import type { Stream, StreamHealth, UserPrivate } from "../api/types";
import { useSession } from "../auth/auth";
import { ArchivesCard } from "../archives/ArchivesCard";
import { BansCard } from "../chat/BansCard";
import { ChatPanel } from "../chat/ChatPanel";
import { ModeratorsCard } from "../chat/ModeratorsCard";
import { ScheduleCard } from "../schedules/ScheduleCard";
import { useLiveChannel, useViewerCount } from "../chat/useChat";
import { BitrateGraph } from "../components/BitrateGraph";
import { CopyButton } from "../components/CopyButton";
import { FormError, TextAreaField, TextField } from "../components/FormField";
import { Spinner } from "../components/Status";
import { MediaStateBadge, ViewerCount } from "../components/StreamBits";
import { formatBitrate, formatDuration } from "../lib/format";
import { pushSample } from "../lib/graph";
import { usePageTitle } from "../lib/usePageTitle";
import { compact } from "../lib/validation";
import { Player } from "../player/Player";
import { PayoutsCard } from "../tips/PayoutsCard";
import { StreamTipsCard } from "../tips/StreamTips";

export const TITLE_MAX = 255;
export const DESCRIPTION_MAX = 5000;

function checkTitle(title: string): string | undefined {
  if (!title.trim()) return "Give your stream a title.";
  if (title.trim().length > TITLE_MAX) return `Use at most ${TITLE_MAX} characters.`;
  return undefined;
}

function checkDescription(description: string): string | undefined {
  return description.length > DESCRIPTION_MAX ? `Use at most ${DESCRIPTION_MAX} characters.` : undefined;
}

// ---------- going live ----------

function GoLiveForm({ user, onConflict }: { user: UserPrivate; onConflict: () => void }) {
  const create = useCreateStream(user.user_id);
  const [form, setForm] = useState({ title: "", description: "" });
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const errors = compact({ title: checkTitle(form.title), description: checkDescription(form.description) });
    setFieldErrors(errors);
    setFormError(null);
    if (Object.keys(errors).length) return;
    const description = form.description.trim();
    create.mutate(
      { title: form.title.trim(), ...(description ? { description } : {}) },
      {
        onError: (err) => {
          const { fields, form: message } = formErrors(err, ["title", "description"]);
          setFieldErrors(fields);
          setFormError(message);
          if (err instanceof ApiError && err.code === "STREAM_ALREADY_LIVE") onConflict();
        },
      },
    );
  };

  return (
    <section className="card dash-card" aria-labelledby="go-live-title" data-testid="go-live">
      <div className="dash-card-head">
        <h2 id="go-live-title">Go live</h2>
        <p className="muted">Name your stream, then start streaming from OBS with the key below.</p>
      </div>
      <form className="form" onSubmit={onSubmit} noValidate data-testid="go-live-form">
        <FormError message={formError} />
        <TextField
          label="Title"
          name="title"
          maxLength={TITLE_MAX}
          placeholder="Speedrunning the whole saga tonight"
          value={form.title}
          error={fieldErrors.title}
          onChange={(e) => setForm({ ...form, title: e.target.value })}
        />
        <TextAreaField
          label="Description"
          name="description"
          maxLength={DESCRIPTION_MAX}
          hint="Optional. What is the stream about?"
          value={form.description}
          error={fieldErrors.description}
          onChange={(e) => setForm({ ...form, description: e.target.value })}
        />
        <div className="form-actions">
          <button type="submit" className="btn btn--primary" disabled={create.isPending}>
            <span className="live-dot" aria-hidden="true" />
            {create.isPending ? "Opening…" : "Go live"}
          </button>
          <span className="muted dash-aside">Already streaming from OBS? Your stream shows up here by itself.</span>
        </div>
      </form>
    </section>
  );
}

// ---------- while live ----------

function HealthPanel({ stream }: { stream: Stream }) {
  const health = useStreamHealth(stream.stream_id);
  const [samples, setSamples] = useState<number[]>([]);
  const data: StreamHealth | undefined = health.data;

  useEffect(() => {
    if (!data) return;
    setSamples((old) => pushSample(old, data.ingest?.bitrate_kbps ?? 0));
  }, [data, health.dataUpdatedAt]);

  if (health.isPending) return <Spinner label="Loading stream health…" />;
  if (health.isError && !data) {
    return (
      <p className="form-error" role="alert">
        {errorMessage(health.error)}
      </p>
    );
  }
  const ingest = data?.ingest ?? null;
  const transcoder = data?.transcoder ?? null;
  const keyframe = ingest?.keyframe_interval_s ?? null;
  const slowKeyframes = keyframe !== null && keyframe > 2.5;
  // Speed means nothing while no encoder feeds the transcoder (it reads 0× then).
  const slowTranscoder = ingest !== null && ingest.connected && transcoder !== null && transcoder.speed < 0.95;

  return (
    <div className="health" data-testid="health">
      <BitrateGraph samples={samples} />
      {ingest ? null : <p className="muted health-note">No encoder connected right now.</p>}
      <dl className="health-grid">
        <div>
          <dt>Ingest bitrate</dt>
          <dd data-testid="health-bitrate">{ingest ? formatBitrate(ingest.bitrate_kbps) : "—"}</dd>
        </div>
        <div>
          <dt>Frame rate</dt>
          <dd data-testid="health-fps">{ingest ? `${ingest.fps.toFixed(0)} fps` : "—"}</dd>
        </div>
        <div className={slowKeyframes ? "health-warn" : undefined}>
          <dt>Keyframe interval</dt>
          <dd data-testid="health-keyframe">{keyframe !== null ? `${keyframe.toFixed(1)} s` : "—"}</dd>
        </div>
        <div>
          <dt>Codecs</dt>
          <dd data-testid="health-codecs">
            {ingest ? [ingest.video_codec, ingest.audio_codec].filter(Boolean).join(" / ") || "—" : "—"}
          </dd>
        </div>
        <div className={slowTranscoder ? "health-warn" : undefined}>
          <dt>Transcoder speed</dt>
          <dd data-testid="health-speed">
            {transcoder ? `${transcoder.speed.toFixed(2)}× · ${transcoder.fps.toFixed(0)} fps` : "—"}
          </dd>
        </div>
        <div>
          <dt>Renditions</dt>
          <dd data-testid="health-renditions">
            {data && data.renditions.length > 0 ? (
              <span className="chips">
                {data.renditions.map((r) => (
                  <span key={r} className="chip">
                    {r}
                  </span>
                ))}
              </span>
            ) : (
              "—"
            )}
          </dd>
        </div>
      </dl>
      {slowKeyframes ? (
        <p className="health-note health-note--warn">
          Keyframes are far apart: set OBS → Settings → Output → Keyframe Interval to 1 or 2 s for low latency.
        </p>
      ) : null}
      {slowTranscoder ? (
        <p className="health-note health-note--warn">
          The server is transcoding slower than real time; viewers may buffer. Try a lower resolution or bitrate.
        </p>
      ) : null}
    </div>
  );
}

function EditStreamForm({ stream, user }: { stream: Stream; user: UserPrivate }) {
  const update = useUpdateStream(stream.stream_id, user.user_id);
  // Seeded once per stream: polling must not overwrite what the creator is typing.
  const [form, setForm] = useState({ title: stream.title, description: stream.description ?? "" });
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);

  const dirty = form.title.trim() !== stream.title || form.description.trim() !== (stream.description ?? "");

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const errors = compact({ title: checkTitle(form.title), description: checkDescription(form.description) });
    setFieldErrors(errors);
    setFormError(null);
    setSaved(false);
    if (Object.keys(errors).length) return;
    update.mutate(
      { title: form.title.trim(), description: form.description.trim() },
      {
        onSuccess: (next) => {
          setForm({ title: next.title, description: next.description ?? "" });
          setSaved(true);
        },
        onError: (err) => {
          const { fields, form: message } = formErrors(err, ["title", "description"]);
          setFieldErrors(fields);
          setFormError(message);
        },
      },
    );
  };

  return (
    <form className="form dash-edit" onSubmit={onSubmit} noValidate data-testid="edit-stream-form">
      <h3>Title and description</h3>
      <FormError message={formError} />
      <TextField
        label="Title"
        name="title"
        maxLength={TITLE_MAX}
        value={form.title}
        error={fieldErrors.title}
        onChange={(e) => {
          setSaved(false);
          setForm({ ...form, title: e.target.value });
        }}
      />
      <TextAreaField
        label="Description"
        name="description"
        maxLength={DESCRIPTION_MAX}
        value={form.description}
        error={fieldErrors.description}
        onChange={(e) => {
          setSaved(false);
          setForm({ ...form, description: e.target.value });
        }}
      />
      <div className="form-actions">
        <button type="submit" className="btn btn--secondary" disabled={update.isPending || !dirty}>
          {update.isPending ? "Saving…" : "Save changes"}
        </button>
        {saved ? (
          <span className="form-saved" role="status">
            Saved. Viewers see it within seconds.
          </span>
        ) : null}
      </div>
    </form>
  );
}

function EndStreamControl({ stream, user, onEnded }: { stream: Stream; user: UserPrivate; onEnded: (s: Stream) => void }) {
  const end = useEndStream(stream.stream_id, user.user_id);
  const [confirming, setConfirming] = useState(false);
  if (!confirming) {
    return (
      <button type="button" className="btn btn--danger" onClick={() => setConfirming(true)} data-testid="end-stream">
        End stream
      </button>
    );
  }
  return (
    <div className="confirm" role="group" aria-labelledby="end-confirm-text" data-testid="end-confirm">
      <p id="end-confirm-text">
        <strong>End the stream for everyone?</strong> OBS is disconnected and viewers see that the stream has ended. This
        cannot be undone; going live again starts a new stream.
      </p>
      {end.isError ? (
        <p className="field-error" role="alert">
          {errorMessage(end.error)}
        </p>
      ) : null}
      <div className="form-actions">
        <button
          type="button"
          className="btn btn--danger"
          disabled={end.isPending}
          onClick={() => end.mutate(undefined, { onSuccess: onEnded })}
        >
          {end.isPending ? "Ending…" : "Yes, end stream"}
        </button>
        <button type="button" className="btn btn--ghost" onClick={() => setConfirming(false)} disabled={end.isPending}>
          Keep streaming
        </button>
      </div>
    </div>
  );
}

function LivePanel({ stream, user, onEnded }: { stream: Stream; user: UserPrivate; onEnded: (s: Stream) => void }) {
  const showVideo = (stream.media_state === "live" || stream.media_state === "reconnecting") && stream.hls_url;
  // The stream's own socket, as on the watch page: the viewer count and the chat (the creator moderates it here).
  const channel = useLiveChannel(stream.stream_id);
  const viewers = useViewerCount(channel);
  return (
    <section className="card dash-card dash-live" aria-labelledby="live-title" data-testid="live-panel">
      <div className="dash-live-head">
        <div>
          <div className="dash-live-tags">
            <MediaStateBadge state={stream.media_state} />
            <ViewerCount count={viewers ?? stream.viewer_count} testId="dash-viewer-count" />
            <span className="muted">On air for {formatDuration(stream.started_at, null)}</span>
          </div>
          <h2 id="live-title" data-testid="live-title">
            {stream.title}
          </h2>
        </div>
        <Link to={`/watch/${stream.stream_id}`} className="btn btn--secondary" data-testid="watch-link">
          Open watch page
        </Link>
      </div>
      <div className="dash-live-grid">
        <div className="dash-live-main">
          <div className="dash-preview">
            {showVideo && stream.hls_url ? (
              <Player src={stream.hls_url} label="Preview of your stream" compact testId="preview-player">
                {stream.media_state === "reconnecting" ? (
                  <div className="player-overlay" role="status">
                    <p className="stage-title">Reconnecting…</p>
                    <p className="muted">Your encoder disconnected. Viewers wait for it to come back.</p>
                  </div>
                ) : null}
              </Player>
            ) : (
              <div className="preview-waiting" data-testid="preview-waiting">
                <span className="spinner" aria-hidden="true" />
                <p className="stage-title">Waiting for your encoder</p>
                <p className="muted">Start streaming in OBS with the server and key below. The preview appears here.</p>
              </div>
            )}
          </div>
          <HealthPanel stream={stream} />
        </div>
        <div className="dash-live-chat">
          <ChatPanel store={channel} streamId={stream.stream_id} creatorId={stream.user_id} />
        </div>
      </div>
      <StreamTipsCard store={channel} streamId={stream.stream_id} />
      <EditStreamForm key={stream.stream_id} stream={stream} user={user} />
      <div className="dash-end">
        <EndStreamControl stream={stream} user={user} onEnded={onEnded} />
      </div>
    </section>
  );
}

// ---------- encoder setup ----------

const HIDDEN_KEY = "•".repeat(16);

function StreamKeyCard() {
  const key = useStreamKey();
  const rotate = useRotateStreamKey();
  const [revealed, setRevealed] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [rotated, setRotated] = useState(false);

  return (
    <section className="card dash-card" aria-labelledby="setup-title" data-testid="stream-setup">
      <div className="dash-card-head">
        <h2 id="setup-title">Encoder setup</h2>
        <p className="muted">Paste these into OBS → Settings → Stream (Service: Custom…).</p>
      </div>
      {key.isPending ? (
        <Spinner label="Loading your stream key…" />
      ) : key.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(key.error)}
        </p>
      ) : (
        <>
          <div className="secret-row">
            <span className="secret-label" id="server-label">
              Server
            </span>
            <code className="secret-value" aria-labelledby="server-label" data-testid="rtmp-url">
              {key.data.rtmp_url}
            </code>
            <div className="secret-actions">
              <CopyButton text={key.data.rtmp_url} what="server URL" testId="copy-server" />
            </div>
          </div>
          <div className="secret-row">
            <span className="secret-label" id="key-label">
              Stream key
            </span>
            <code
              className={`secret-value${revealed ? "" : " secret-value--hidden"}`}
              aria-labelledby="key-label"
              data-testid="stream-key"
            >
              {revealed ? key.data.stream_key : HIDDEN_KEY}
            </code>
            <div className="secret-actions">
              <button
                type="button"
                className="btn btn--secondary btn--sm"
                aria-pressed={revealed}
                onClick={() => setRevealed((v) => !v)}
                data-testid="reveal-key"
              >
                {revealed ? "Hide" : "Reveal"}
              </button>
              <CopyButton text={key.data.stream_key} what="stream key" testId="copy-key" />
              <button
                type="button"
                className="btn btn--ghost btn--sm"
                onClick={() => {
                  setConfirming(true);
                  setRotated(false);
                }}
                disabled={confirming}
                data-testid="rotate-key"
              >
                Rotate
              </button>
            </div>
          </div>
          <p className="field-hint">Keep the key secret: anyone who has it can broadcast on your channel.</p>
          {confirming ? (
            <div className="confirm" role="group" aria-labelledby="rotate-confirm-text" data-testid="rotate-confirm">
              <p id="rotate-confirm-text">
                <strong>Make a new stream key?</strong> The current key stops working at once. Paste the new key into
                OBS (Settings → Stream → Stream Key) before you go live again. A stream that is running now stays
                connected.
              </p>
              {rotate.isError ? (
                <p className="field-error" role="alert">
                  {errorMessage(rotate.error)}
                </p>
              ) : null}
              <div className="form-actions">
                <button
                  type="button"
                  className="btn btn--primary btn--sm"
                  disabled={rotate.isPending}
                  onClick={() =>
                    rotate.mutate(undefined, {
                      onSuccess: () => {
                        setConfirming(false);
                        setRotated(true);
                      },
                    })
                  }
                >
                  {rotate.isPending ? "Rotating…" : "Yes, make a new key"}
                </button>
                <button
                  type="button"
                  className="btn btn--ghost btn--sm"
                  onClick={() => setConfirming(false)}
                  disabled={rotate.isPending}
                >
                  Cancel
                </button>
              </div>
            </div>
          ) : null}
          {rotated ? (
            <p className="notice dash-notice" role="status" data-testid="key-rotated">
              New stream key made. Update it in OBS: Settings → Stream → Stream Key.
            </p>
          ) : null}
        </>
      )}
    </section>
  );
}

function ObsHints() {
  return (
    <section className="card dash-card" aria-labelledby="obs-title" data-testid="obs-hints">
      <div className="dash-card-head">
        <h2 id="obs-title">OBS settings</h2>
        <p className="muted">Any RTMP encoder works; these are the OBS names.</p>
      </div>
      <ol className="obs-steps">
        <li>
          <strong>Settings → Stream</strong>: Service <em>Custom…</em>, then the Server and Stream Key from Encoder setup.
        </li>
        <li>
          <strong>Settings → Output</strong> (Output Mode: Advanced): encoder x264 with CPU preset <em>veryfast</em>, rate
          control <em>CBR</em>, bitrate up to <em>6000 kbps</em>, keyframe interval <em>1 s</em> or <em>2 s</em>.
        </li>
        <li>
          <strong>Settings → Video</strong>: 1280×720 or 1920×1080 at 30 or 60 fps.
        </li>
        <li>
          Click <strong>Start Streaming</strong>. Going live straight from OBS works too: a stream opens with a default
          title, which you can change here.
        </li>
      </ol>
    </section>
  );
}

// ---------- the page ----------

/** The stream this page last saw live and then not (ended here, from OBS, or anywhere else). */
function useEndedStreamId(stream: Stream | null): string | null {
  const liveId = stream?.stream_id ?? null;
  const previous = useRef<string | null>(null);
  const [endedId, setEndedId] = useState<string | null>(null);
  useEffect(() => {
    if (previous.current !== null && previous.current !== liveId) setEndedId(previous.current);
    previous.current = liveId;
  }, [liveId]);
  return endedId;
}

export function DashboardPage() {
  usePageTitle("Creator dashboard");
  const { user } = useSession();
  if (!user) return <Spinner />;
  return <Dashboard user={user} />;
}

function Dashboard({ user }: { user: UserPrivate }) {
  const live = useMyLiveStream(user.user_id);
  const [ended, setEnded] = useState<Stream | null>(null);
  const stream = live.data ?? null;
  const endedStreamId = useEndedStreamId(stream);

  return (
    <div className="page dashboard" data-testid="dashboard" data-live={stream ? stream.media_state : "none"}>
      <div className="dash-head">
        <div>
          <h1>Creator dashboard</h1>
          <p className="muted">Go live, check your encoder and manage your stream.</p>
        </div>
        <div className="form-actions">
          <Link to="/earnings" className="btn btn--ghost" data-testid="earnings-link">
            Earnings
          </Link>
          <Link to={`/u/${encodeURIComponent(user.username)}`} className="btn btn--ghost">
            View channel
          </Link>
        </div>
      </div>

      {ended && !stream ? (
        <p className="notice" role="status" data-testid="stream-ended-notice">
          <strong>Stream ended.</strong> “{ended.title}” ran for {formatDuration(ended.started_at, ended.ended_at)}.
        </p>
      ) : null}

      {live.isPending ? (
        <Spinner label="Checking whether you are live…" />
      ) : live.isError && live.data === undefined ? (
        <p className="form-error" role="alert">
          {errorMessage(live.error)}
        </p>
      ) : stream ? (
        <>
          <LivePanel
            key={stream.stream_id}
            stream={stream}
            user={user}
            onEnded={(s) => {
              setEnded(s);
              void live.refetch();
            }}
          />
          <ModeratorsCard key={`mods-${stream.stream_id}`} streamId={stream.stream_id} ownUsername={user.username} />
          <BansCard key={`bans-${stream.stream_id}`} streamId={stream.stream_id} />
        </>
      ) : (
        <GoLiveForm
          user={user}
          onConflict={() => {
            void live.refetch();
          }}
        />
      )}

      <PayoutsCard />

      <ScheduleCard user={user} />

      <ArchivesCard userId={user.user_id} endedStreamId={endedStreamId} />

      <div className="dash-setup-grid">
        <StreamKeyCard />
        <ObsHints />
      </div>
    </div>
  );
}
