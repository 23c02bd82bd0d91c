"""Web Push (RFC 8030, RFC 8291 payload encryption, RFC 8292 VAPID): each browser's subscription, the server's
VAPID key pair, and the notification channel that sends a push per subscription as a job."""
