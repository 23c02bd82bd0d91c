// A channel's upcoming streams: each with its start in the viewer's time zone, a countdown (or the way to
// the stream once it is live), and the creator's calendar feed. Nothing at all when none is planned.
import { calendarUrls, isUpcoming, useUserSchedules } from "../api/schedules";
import type { UserPublic } from "../api/types";
import { CopyButton } from "../components/CopyButton";
import { ScheduleEntry, useNow } from "./ScheduleBits";
import { viewerTimeZone } from "./time";

export function ChannelSchedule({ user }: { user: UserPublic }) {
  const schedules = useUserSchedules(user.user_id);
  // Entries leave the list when their time has passed unclaimed; a minute is fine enough for that.
  const now = useNow(60_000);
  const upcoming = schedules.data?.items.filter((s) => isUpcoming(s, now)) ?? [];
  // A channel without plans (or whose plans cannot be fetched) shows no section: it has nothing to promise.
  if (upcoming.length === 0) return null;

  const { ics, webcal } = calendarUrls(user.user_id);
  const name = user.display_name || user.username;
  return (
    <section className="profile-section channel-schedule" aria-labelledby="schedule-title" data-testid="channel-schedule">
      <div className="section-head">
        <h2 id="schedule-title">Upcoming streams</h2>
        <div className="schedule-calendar">
          <a className="btn btn--secondary btn--sm" href={ics} data-testid="schedule-ics" title={`${name}’s schedule as an iCalendar (.ics) file`}>
            Add to calendar
          </a>
          <a className="btn btn--ghost btn--sm" href={webcal} data-testid="schedule-webcal" title="Subscribe in your calendar app: it follows changes">
            Subscribe
          </a>
          <CopyButton text={ics} label="Copy feed URL" what="calendar feed URL" testId="schedule-copy-feed" />
        </div>
      </div>
      <ul className="schedule-list" aria-label={`${name}’s upcoming streams`}>
        {upcoming.map((schedule) => (
          <ScheduleEntry key={schedule.schedule_id} schedule={schedule} />
        ))}
      </ul>
      <p className="field-hint schedule-zone" data-testid="schedule-zone">
        Times are in your time zone ({viewerTimeZone()}).
      </p>
    </section>
  );
}
