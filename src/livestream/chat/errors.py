from __future__ import annotations

from datetime import datetime

from livestream.errors import BadRequest, Forbidden, NotFound, TooManyRequests, Unauthorized


class EmptyMessage(BadRequest):
    code = "EMPTY_MESSAGE"
    message = "Type a message first"


class MessageTooLong(BadRequest):
    code = "MESSAGE_TOO_LONG"
    message = "Messages are at most 500 characters"


class ChatRateLimited(TooManyRequests):
    code = "RATE_LIMITED"
    message = "You are sending messages too fast"


class SlowMode(TooManyRequests):
    code = "SLOW_MODE"
    message = "Slow mode is on: wait before sending another message"


class Banned(Forbidden):
    code = "BANNED"
    message = "You are banned from this chat"

    def __init__(self, until: datetime | None) -> None:
        if until is None:
            super().__init__()
        else:
            super().__init__("You are timed out in this chat", extra={"until": until.isoformat()})


class ChatUnauthenticated(Unauthorized):
    code = "UNAUTHENTICATED"
    message = "Log in to chat"


class NotAModerator(Forbidden):
    code = "FORBIDDEN"
    message = "Only the creator and their moderators can moderate this chat"


class NotTheCreator(Forbidden):
    code = "FORBIDDEN"
    message = "Only the creator can appoint moderators"


class CannotBan(BadRequest):
    code = "CANNOT_BAN"
    message = "This user cannot be banned from this chat"


class InvalidModerator(BadRequest):
    code = "INVALID_MODERATOR"
    message = "The creator is already in charge of their chat"


class MessageNotFound(NotFound):
    code = "MESSAGE_NOT_FOUND"
    message = "No such message in the last minutes of chat"


class BanNotFound(NotFound):
    code = "BAN_NOT_FOUND"
    message = "This user is not banned"


class ModeratorNotFound(NotFound):
    code = "MODERATOR_NOT_FOUND"
    message = "This user is not a moderator"
