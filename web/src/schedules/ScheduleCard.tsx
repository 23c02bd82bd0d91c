// The creator's schedule on the dashboard: plan a stream (its start typed in the creator's own time zone and
// sent as UTC), change or cancel a planned one, and see what became of the recent ones.
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { ApiError, errorMessage, formErrors, type FieldErrors } from "../api/errors";
import {
  DURATION_MAX,
  DURATION_MIN,
  MAX_AHEAD_MS,
  OWN_LIMIT,
  SCHEDULE_DESCRIPTION_MAX,
  SCHEDULE_TITLE_MAX,
  schedulePhase,
  useCancelSchedule,
  useCreateSchedule,
  useUpdateSchedule,
  useUserSchedules,
  type Schedule,
  type ScheduleCreateBody,
  type ScheduleUpdateBody,
} from "../api/schedules";
import type { UserPrivate } from "../api/types";
import { FormError, TextAreaField, TextField } from "../components/FormField";
import { EmptyState, Spinner } from "../components/Status";
import { compact } from "../lib/validation";
import { durationText, SchedulePhaseBadge, ScheduleTime, useNow } from "./ScheduleBits";
import { countdownText, localInputToUtc, utcToLocalInput, viewerTimeZone } from "./time";

// ---------- the form ----------

export interface ScheduleFormValues {
  title: string;
  description: string;
  /** A `datetime-local` value, in the creator's time zone. */
  startsAt: string;
  /** Minutes, as typed; "" for none. */
  duration: string;
}

const EMPTY: ScheduleFormValues = { title: "", description: "", startsAt: "", duration: "" };
const FIELDS = ["title", "description", "starts_at", "expected_duration_minutes"] as const;

function valuesOf(schedule: Schedule): ScheduleFormValues {
  return {
    title: schedule.title,
    description: schedule.description ?? "",
    startsAt: utcToLocalInput(schedule.starts_at),
    duration: schedule.expected_duration_minutes === null ? "" : String(schedule.expected_duration_minutes),
  };
}

type Checked = { errors: FieldErrors; body: ScheduleCreateBody | null };

/** The form's values checked as the server checks them, and the body to send when they pass. */
export function checkScheduleForm(values: ScheduleFormValues, now: number = Date.now()): Checked {
  const title = values.title.trim();
  const description = values.description.trim();
  const startsAt = values.startsAt ? localInputToUtc(values.startsAt) : null;
  const durationInput = values.duration.trim();
  const duration = durationInput === "" ? null : Number(durationInput);

  const errors = compact({
    title: !title ? "Give the stream a title." : title.length > SCHEDULE_TITLE_MAX ? `Use at most ${SCHEDULE_TITLE_MAX} characters.` : undefined,
    description: description.length > SCHEDULE_DESCRIPTION_MAX ? `Use at most ${SCHEDULE_DESCRIPTION_MAX} characters.` : undefined,
    starts_at: !values.startsAt
      ? "Pick a date and time."
      : startsAt === null
        ? "Enter a date and time."
        : new Date(startsAt).getTime() <= now
          ? "Pick a time in the future."
          : new Date(startsAt).getTime() > now + MAX_AHEAD_MS
            ? "Pick a time at most a year ahead."
            : undefined,
    expected_duration_minutes:
      duration !== null && (!Number.isInteger(duration) || duration < DURATION_MIN || duration > DURATION_MAX)
        ? `Enter whole minutes from ${DURATION_MIN} to ${DURATION_MAX} (24 h), or leave it empty.`
        : undefined,
  });
  if (Object.keys(errors).length || startsAt === null) return { errors, body: null };
  return {
    errors,
    body: {
      title,
      starts_at: startsAt,
      ...(description ? { description } : {}),
      ...(duration !== null ? { expected_duration_minutes: duration } : {}),
    },
  };
}

/** The server's complaint, next to the field it is about when it names one. */
function serverErrors(err: unknown): { fields: FieldErrors; form: string | null } {
  const split = formErrors(err, FIELDS);
  // The server's range check on the start names no field, only the message does.
  if (split.form !== null && err instanceof ApiError && err.code === "VALIDATION_ERROR" && /^starts_at\b/.test(err.message)) {
    return { fields: { starts_at: "Pick a time in the future, at most a year ahead." }, form: null };
  }
  if (err instanceof ApiError && err.code === "TOO_MANY_SCHEDULES") return { fields: {}, form: err.message };
  return split;
}

function ScheduleForm({
  initial,
  submitLabel,
  pendingLabel,
  pending,
  onSubmit,
  onCancel,
  testId,
}: {
  initial: ScheduleFormValues;
  submitLabel: string;
  pendingLabel: string;
  pending: boolean;
  /** Resolves with the server's field and form errors (empty when it went through). */
  onSubmit: (body: ScheduleCreateBody) => Promise<{ fields: FieldErrors; form: string | null }>;
  onCancel?: () => void;
  testId: string;
}) {
  const [values, setValues] = useState(initial);
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const zone = viewerTimeZone();
  const now = useNow(60_000);
  const set = (key: keyof ScheduleFormValues) => (e: { target: { value: string } }) =>
    setValues((old) => ({ ...old, [key]: e.target.value }));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const { errors, body } = checkScheduleForm(values);
    setFieldErrors(errors);
    setFormError(null);
    if (!body) return;
    const result = await onSubmit(body);
    setFieldErrors(result.fields);
    setFormError(result.form);
    if (!Object.keys(result.fields).length && !result.form && !onCancel) setValues(EMPTY);
  };

  return (
    <form className="form schedule-form" onSubmit={(e) => void submit(e)} noValidate data-testid={testId}>
      <FormError message={formError} />
      <TextField
        label="Title"
        name="title"
        maxLength={SCHEDULE_TITLE_MAX}
        placeholder="Friday night speedrun"
        value={values.title}
        error={fieldErrors.title}
        onChange={set("title")}
      />
      <div className="schedule-form-row">
        <TextField
          label="Starts at"
          name="starts_at"
          type="datetime-local"
          min={utcToLocalInput(new Date(now).toISOString())}
          max={utcToLocalInput(new Date(now + MAX_AHEAD_MS).toISOString())}
          hint={`In your time zone, ${zone}.`}
          value={values.startsAt}
          error={fieldErrors.starts_at}
          onChange={set("startsAt")}
        />
        <TextField
          label="Expected length (minutes)"
          name="expected_duration_minutes"
          type="number"
          inputMode="numeric"
          min={DURATION_MIN}
          max={DURATION_MAX}
          step={5}
          hint="Optional."
          value={values.duration}
          error={fieldErrors.expected_duration_minutes}
          onChange={set("duration")}
        />
      </div>
      <TextAreaField
        label="Description"
        name="description"
        maxLength={SCHEDULE_DESCRIPTION_MAX}
        rows={2}
        hint="Optional. What will the stream be about?"
        value={values.description}
        error={fieldErrors.description}
        onChange={set("description")}
      />
      <div className="form-actions">
        <button type="submit" className="btn btn--primary" disabled={pending} data-testid={`${testId}-submit`}>
          {pending ? pendingLabel : submitLabel}
        </button>
        {onCancel ? (
          <button type="button" className="btn btn--ghost" onClick={onCancel} disabled={pending}>
            Discard changes
          </button>
        ) : null}
      </div>
    </form>
  );
}

// ---------- one entry ----------

function CancelConfirm({ schedule, onClose }: { schedule: Schedule; onClose: () => void }) {
  const cancel = useCancelSchedule();
  const titleId = useId();
  const textId = useId();
  const keep = useRef<HTMLButtonElement>(null);
  useEffect(() => keep.current?.focus(), []);

  return (
    <div
      className="confirm schedule-confirm"
      role="alertdialog"
      aria-labelledby={titleId}
      aria-describedby={textId}
      data-testid="schedule-cancel-confirm"
      onKeyDown={(event) => {
        if (event.key === "Escape" && !cancel.isPending) onClose();
      }}
    >
      <p id={titleId}>
        <strong>Cancel “{schedule.title}”?</strong>
      </p>
      <p id={textId}>
        It leaves your channel, and subscribed calendars show it as cancelled. To stream at another time, change the time
        instead.
      </p>
      {cancel.isError ? (
        <p className="field-error" role="alert" data-testid="schedule-cancel-error">
          {cancel.error instanceof ApiError && cancel.error.code === "SCHEDULE_NOT_CANCELLABLE"
            ? "It can no longer be cancelled: it has started, or its time has passed."
            : errorMessage(cancel.error)}
        </p>
      ) : null}
      <div className="form-actions">
        <button
          type="button"
          className="btn btn--danger btn--sm"
          disabled={cancel.isPending}
          onClick={() => cancel.mutate(schedule.schedule_id, { onSuccess: onClose })}
          data-testid="schedule-cancel-yes"
        >
          {cancel.isPending ? "Cancelling…" : "Yes, cancel it"}
        </button>
        <button type="button" className="btn btn--ghost btn--sm" ref={keep} onClick={onClose} disabled={cancel.isPending}>
          Keep it
        </button>
      </div>
    </div>
  );
}

/** The fields that differ from the entry's (a PUT changes only what it names). */
function changes(schedule: Schedule, body: ScheduleCreateBody): ScheduleUpdateBody {
  const out: ScheduleUpdateBody = {};
  if (body.title !== schedule.title) out.title = body.title;
  const description = body.description ?? null;
  if (description !== schedule.description) out.description = description;
  if (new Date(body.starts_at).getTime() !== new Date(schedule.starts_at).getTime()) out.starts_at = body.starts_at;
  const duration = body.expected_duration_minutes ?? null;
  if (duration !== schedule.expected_duration_minutes) out.expected_duration_minutes = duration;
  return out;
}

function ScheduleRow({ schedule }: { schedule: Schedule }) {
  const update = useUpdateSchedule();
  const now = useNow(1000);
  const phase = schedulePhase(schedule, now);
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const editable = schedule.status === "scheduled";
  const cancellable = phase === "upcoming";
  const length = durationText(schedule.expected_duration_minutes);

  const save = async (body: ScheduleCreateBody) => {
    const diff = changes(schedule, body);
    if (!Object.keys(diff).length) {
      setEditing(false);
      return { fields: {}, form: null };
    }
    try {
      await update.mutateAsync({ scheduleId: schedule.schedule_id, body: diff });
      setEditing(false);
      setNotice("Saved.");
      return { fields: {}, form: null };
    } catch (err) {
      if (err instanceof ApiError && err.code === "SCHEDULE_NOT_EDITABLE") {
        setEditing(false);
        setNotice("It can no longer be changed: it has gone live, ended or been cancelled.");
        return { fields: {}, form: null };
      }
      return serverErrors(err);
    }
  };

  return (
    <li className="schedule-row" data-testid="schedule-row" data-schedule-id={schedule.schedule_id} data-phase={phase}>
      <div className="schedule-row-main">
        <div className="schedule-entry-head">
          <span className="schedule-title" data-testid="schedule-title">
            {schedule.title}
          </span>
          <SchedulePhaseBadge phase={phase} />
        </div>
        <p className="schedule-meta muted">
          <ScheduleTime schedule={schedule} />
          {length ? <span data-testid="schedule-length"> · about {length}</span> : null}
          {phase === "upcoming" ? (
            <span className="schedule-countdown" data-testid="schedule-countdown">
              {" · "}
              {countdownText(schedule.starts_at, now)}
            </span>
          ) : null}
        </p>
        {schedule.description && !editing ? (
          <p className="schedule-description" data-testid="schedule-description">
            {schedule.description}
          </p>
        ) : null}
        {phase === "starting" ? (
          <p className="field-hint" data-testid="schedule-starting-hint">
            Go live now and the stream is linked to this plan (up to 30 minutes after its start).
          </p>
        ) : null}
        {notice ? (
          <p className="field-hint" role="status" data-testid="schedule-notice">
            {notice}
          </p>
        ) : null}
        {editing && editable ? (
          <ScheduleForm
            initial={valuesOf(schedule)}
            submitLabel="Save changes"
            pendingLabel="Saving…"
            pending={update.isPending}
            onSubmit={save}
            onCancel={() => setEditing(false)}
            testId="schedule-edit-form"
          />
        ) : null}
        {confirming ? <CancelConfirm schedule={schedule} onClose={() => setConfirming(false)} /> : null}
      </div>
      <div className="schedule-actions">
        {phase === "live" && schedule.stream_id ? (
          <Link to={`/watch/${schedule.stream_id}`} className="btn btn--secondary btn--sm" data-testid="schedule-watch">
            Open watch page
          </Link>
        ) : null}
        {editable && !editing ? (
          <button
            type="button"
            className="btn btn--secondary btn--sm"
            onClick={() => {
              setEditing(true);
              setConfirming(false);
              setNotice(null);
            }}
            aria-label={`Change ${schedule.title}`}
            data-testid="schedule-edit"
          >
            Edit
          </button>
        ) : null}
        {cancellable && !editing ? (
          <button
            type="button"
            className="btn btn--ghost btn--sm"
            onClick={() => {
              setConfirming(true);
              setEditing(false);
              setNotice(null);
            }}
            disabled={confirming}
            aria-label={`Cancel ${schedule.title}`}
            data-testid="schedule-cancel"
          >
            Cancel stream
          </button>
        ) : null}
      </div>
    </li>
  );
}

// ---------- the card ----------

export function ScheduleCard({ user }: { user: UserPrivate }) {
  const schedules = useUserSchedules(user.user_id, OWN_LIMIT);
  const create = useCreateSchedule();
  const [created, setCreated] = useState<string | null>(null);
  const items = schedules.data?.items;

  const add = async (body: ScheduleCreateBody) => {
    setCreated(null);
    try {
      const schedule = await create.mutateAsync(body);
      setCreated(schedule.title);
      return { fields: {}, form: null };
    } catch (err) {
      return serverErrors(err);
    }
  };

  return (
    <section className="card dash-card" aria-labelledby="schedule-card-title" data-testid="schedule-card">
      <div className="dash-card-head">
        <h2 id="schedule-card-title">Schedule</h2>
        <p className="muted">
          Plan your next streams. Viewers see them on your channel with a countdown and can add them to their calendar;
          followers get a reminder shortly before. Going live within 30 minutes of a planned start links the stream to
          it.
        </p>
      </div>
      {schedules.isPending ? (
        <Spinner label="Loading your schedule…" />
      ) : schedules.isError && !items ? (
        <p className="form-error" role="alert" data-testid="schedule-load-error">
          {errorMessage(schedules.error)}
        </p>
      ) : !items || items.length === 0 ? (
        <EmptyState title="Nothing planned yet.">Plan a stream below and it shows up on your channel.</EmptyState>
      ) : (
        <ul className="schedule-list" aria-label="Your planned streams">
          {items.map((schedule) => (
            <ScheduleRow key={schedule.schedule_id} schedule={schedule} />
          ))}
        </ul>
      )}
      <h3 className="schedule-form-title">Plan a stream</h3>
      {created ? (
        <p className="notice dash-notice" role="status" data-testid="schedule-created">
          “{created}” is planned. It shows on your channel.
        </p>
      ) : null}
      <ScheduleForm
        initial={EMPTY}
        submitLabel="Add to schedule"
        pendingLabel="Adding…"
        pending={create.isPending}
        onSubmit={add}
        testId="schedule-form"
      />
    </section>
  );
}
