"""RTMP ingest: an asyncio server that authenticates publishers and hands their FLV tags to the application."""

from livestream.media.rtmp.connection import RTMPLimits
from livestream.media.rtmp.server import RTMPServer
from livestream.media.rtmp.session import PublisherControl, PublishHandler, PublishRejected, PublishSession
from livestream.media.rtmp.stats import IngestStats

__all__ = [
    "IngestStats",
    "PublishHandler",
    "PublishRejected",
    "PublishSession",
    "PublisherControl",
    "RTMPLimits",
    "RTMPServer",
]
