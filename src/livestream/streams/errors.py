from livestream.errors import Conflict, Forbidden, NotFound


class StreamNotFound(NotFound):
    code = "STREAM_NOT_FOUND"
    message = "Stream not found"


class NotYourStream(Forbidden):
    code = "FORBIDDEN"
    message = "This stream belongs to another creator"


class AlreadyLive(Conflict):
    code = "STREAM_ALREADY_LIVE"
    message = "You already have a live stream; end it first"


class StreamEnded(Conflict):
    code = "STREAM_ENDED"
    message = "This stream has ended"
