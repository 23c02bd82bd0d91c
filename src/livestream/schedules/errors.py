from __future__ import annotations

from livestream.errors import BadRequest, Conflict, Forbidden, NotFound


class ScheduleNotFound(NotFound):
    code = "SCHEDULE_NOT_FOUND"
    message = "Schedule not found"


class NotYourSchedule(Forbidden):
    code = "NOT_YOUR_SCHEDULE"
    message = "This schedule belongs to another creator"


class ScheduleNotEditable(Conflict):
    code = "SCHEDULE_NOT_EDITABLE"
    message = "Only a schedule that has not started, ended or been cancelled can be changed"


class ScheduleNotCancellable(Conflict):
    code = "SCHEDULE_NOT_CANCELLABLE"
    message = "A schedule that is live, done or already in the past cannot be cancelled"


class TooManySchedules(Conflict):
    code = "TOO_MANY_SCHEDULES"
    message = "You have planned as many upcoming streams as a channel may have; cancel one first"


class StartsAtOutOfRange(BadRequest):
    code = "VALIDATION_ERROR"
    message = "starts_at must be in the future and at most a year ahead"


class UserIdRequired(BadRequest):
    code = "VALIDATION_ERROR"
    message = "user_id is required: whose schedule?"


class BadRange(BadRequest):
    code = "VALIDATION_ERROR"
    message = "`to` must be after `from`, and the range at most 400 days"
