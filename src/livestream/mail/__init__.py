"""Email over SMTP: one outgoing message type, one sender; what each email says lives with its domain."""
