// The home page's "Upcoming from people you follow" (signed-in viewers only).
import { Link } from "react-router-dom";
import { errorMessage } from "../api/errors";
import { isUpcoming, useFollowingSchedules } from "../api/schedules";
import { useSession } from "../auth/auth";
import { EmptyState, Spinner } from "../components/Status";
import { ScheduleEntry, useNow } from "./ScheduleBits";
import { viewerTimeZone } from "./time";

function FollowingList() {
  const schedules = useFollowingSchedules();
  const now = useNow(60_000);
  if (schedules.isPending) return <Spinner label="Looking for upcoming streams…" />;
  if (schedules.isError && !schedules.data) {
    return (
      <p className="form-error" role="alert" data-testid="following-schedules-error">
        {errorMessage(schedules.error)}
      </p>
    );
  }
  const items = schedules.data.items.filter((s) => isUpcoming(s, now));
  if (items.length === 0) {
    return (
      <EmptyState title="Nothing planned yet">
        When a creator you follow schedules a stream, it shows up here with a countdown.
      </EmptyState>
    );
  }
  return (
    <>
      <ul className="schedule-list" data-testid="following-schedule-list">
        {items.map((schedule) => (
          <ScheduleEntry key={schedule.schedule_id} schedule={schedule} showCreator />
        ))}
      </ul>
      <p className="field-hint schedule-zone">Times are in your time zone ({viewerTimeZone()}).</p>
    </>
  );
}

export function FollowingSchedules() {
  const { user } = useSession();
  if (!user) return null;
  return (
    <section className="home-section" aria-labelledby="following-schedules-title" data-testid="following-schedules">
      <div className="section-head">
        <h2 id="following-schedules-title">Upcoming from people you follow</h2>
        <Link to={`/u/${encodeURIComponent(user.username)}/following`} className="muted">
          People you follow
        </Link>
      </div>
      <FollowingList />
    </section>
  );
}
