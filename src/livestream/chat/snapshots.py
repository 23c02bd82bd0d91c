"""What a joining chat viewer needs of its stream, read once per stream per second rather than once per viewer.

A raid of thousands of viewers would otherwise cost one database read each. The gateway keeps these snapshots in
a :class:`~livestream.shortcache.ShortCache`: per process, each used for at most ``MAX_AGE_SECONDS`` after its
read *started* (so a hello never shows a stream's state more than 1 s old), one read per stream at a time shared
by the joiners who arrive meanwhile, and dropped as soon as this process sees the stream change (the
``stream.status`` and ``chat.settings`` publications the hub receives, from any process).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from livestream.chat import frames
from livestream.chat.service import channel_of
from livestream.streams.models import Stream

#: A snapshot is used for at most this long after its read started: half of the 1 s a hello's stream state may be
#: old (docs/realtime.md), the rest left for the read itself and the way to the hello on a busy loop.
MAX_AGE_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class StreamSnapshot:
    """A stream as a joining viewer sees it: its ids, and the hello's stream-dependent parts encoded once.

    Connections keep a reference to the shared snapshot (ids only are read from it after the hello), never a
    copy of their own, and never an ORM object.
    """

    stream_id: uuid.UUID
    channel_id: uuid.UUID  # the creator's user id: bans and moderators belong to it
    channel: str  # the realtime channel of the stream's chat
    hello_head: str  # '{"type":"hello","stream_id":"…","viewer_count":'
    hello_tail: str  # ',"stream":{…},"chat":{…},"history":['

    @classmethod
    def of(cls, stream: Stream) -> StreamSnapshot:
        stream_id = str(stream.stream_id)
        state = frames.encode(
            {"stream": frames.stream_state(stream), "chat": {"slow_mode_seconds": stream.slow_mode_seconds}}
        )
        return cls(
            stream_id=stream.stream_id,
            channel_id=stream.user_id,
            channel=channel_of(stream.stream_id),
            hello_head=f'{{"type":"hello","stream_id":"{stream_id}","viewer_count":',
            hello_tail=f',{state[1:-1]},"history":[',
        )

    def hello(self, viewer_count: int, history: list[str]) -> str:
        """The hello frame; the history payloads are already JSON and are spliced in as they are."""
        return f"{self.hello_head}{viewer_count}{self.hello_tail}{','.join(history)}]}}"
