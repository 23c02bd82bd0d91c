"""Live chat: the WebSocket protocol, messages, moderation (bans, timeouts, moderators, slow mode)."""
