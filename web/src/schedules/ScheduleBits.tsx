// Pieces shared by the schedule views: a ticking clock, the status badge, the start time in the viewer's
// zone, the countdown, and one entry as a viewer sees it (channel page, home page).
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { schedulePhase, type Schedule, type SchedulePhase } from "../api/schedules";
import { Avatar } from "../components/Avatar";
import { countdownText, formatStart } from "./time";

/** The current time, renewed every `periodMs`. */
export function useNow(periodMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(timer);
  }, [periodMs]);
  return now;
}

const PHASE_LABELS: Record<SchedulePhase, string> = {
  upcoming: "Scheduled",
  starting: "Starting now",
  live: "Live now",
  missed: "Did not start",
  done: "Streamed",
  cancelled: "Cancelled",
};

export function SchedulePhaseBadge({ phase }: { phase: SchedulePhase }) {
  return (
    <span className={`state-badge schedule-status schedule-status--${phase}`} data-testid="schedule-status" data-phase={phase}>
      <span className="state-dot" aria-hidden="true" />
      {PHASE_LABELS[phase]}
    </span>
  );
}

/** The start as the viewer's wall clock, with the zone's name; the machine-readable instant beside it. */
export function ScheduleTime({ schedule }: { schedule: Schedule }) {
  return (
    <time dateTime={schedule.starts_at} data-testid="schedule-time">
      {formatStart(schedule.starts_at)}
    </time>
  );
}

export function durationText(minutes: number | null): string | null {
  if (minutes === null || minutes <= 0) return null;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return `${m} min`;
  return m ? `${h} h ${m} min` : `${h} h`;
}

/** What a viewer can do about the entry now: wait (countdown), or watch. */
function WhenText({ schedule, phase, now }: { schedule: Schedule; phase: SchedulePhase; now: number }) {
  if (phase === "live") {
    return schedule.stream_id ? (
      <Link to={`/watch/${schedule.stream_id}`} className="schedule-live-link" data-testid="schedule-watch">
        <span className="live-dot" aria-hidden="true" /> Live now: watch
      </Link>
    ) : (
      <span className="schedule-countdown" data-testid="schedule-countdown">
        live now
      </span>
    );
  }
  if (phase === "upcoming" || phase === "starting") {
    return (
      <span className="schedule-countdown" data-testid="schedule-countdown" aria-live="off">
        {countdownText(schedule.starts_at, now)}
      </span>
    );
  }
  return null;
}

/** One entry of a viewer's list. `showCreator`: whose stream it is (the home page mixes creators). */
export function ScheduleEntry({ schedule, showCreator = false }: { schedule: Schedule; showCreator?: boolean }) {
  const now = useNow(1000);
  const phase = schedulePhase(schedule, now);
  const creator = schedule.creator;
  const name = creator.display_name || creator.username;
  const length = durationText(schedule.expected_duration_minutes);
  return (
    <li className="schedule-entry" data-testid="schedule-entry" data-schedule-id={schedule.schedule_id} data-phase={phase}>
      {showCreator ? (
        <Link to={`/u/${encodeURIComponent(creator.username)}`} className="schedule-creator" aria-label={`${name}’s channel`}>
          <Avatar username={creator.username} name={creator.display_name} size="md" />
        </Link>
      ) : null}
      <div className="schedule-entry-main">
        <div className="schedule-entry-head">
          <span className="schedule-title" data-testid="schedule-title">
            {schedule.title}
          </span>
          {phase === "upcoming" ? null : <SchedulePhaseBadge phase={phase} />}
        </div>
        <p className="schedule-meta muted">
          {showCreator ? (
            <>
              <Link to={`/u/${encodeURIComponent(creator.username)}`} data-testid="schedule-creator">
                {name}
              </Link>
              {" · "}
            </>
          ) : null}
          <ScheduleTime schedule={schedule} />
          {length ? <span data-testid="schedule-length"> · about {length}</span> : null}
        </p>
        {schedule.description ? (
          <p className="schedule-description" data-testid="schedule-description">
            {schedule.description}
          </p>
        ) : null}
      </div>
      <div className="schedule-when">
        <WhenText schedule={schedule} phase={phase} now={now} />
      </div>
    </li>
  );
}
