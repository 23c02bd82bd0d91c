"""Settings, all read from ``LS_*`` environment variables."""

from __future__ import annotations

import json
import secrets
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Secrets that ship in examples or that people type when they are in a hurry.
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "changethis", "secret", "dev", "development", "test", "password"}
)
MIN_SECRET_LENGTH = 32


class InsecureSettingsError(RuntimeError):
    """Raised when a setting is unsafe for the selected environment."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LS_", extra="ignore")

    env: Literal["development", "test", "production"] = "production"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    rtmp_port: int = Field(default=1935, ge=0, le=65535)  # 0: any free port (tests)
    public_url: str = "http://127.0.0.1:8000"
    database_url: str = "sqlite+aiosqlite:///var/livestream.db"
    redis_url: str | None = None
    media_dir: Path = Path("var/media")
    var_dir: Path = Path("var")
    web_dist: Path | None = None
    secret_key: str = ""
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    jwt_issuer: str = "livestream"
    jwt_audience: str = "livestream-api"
    login_max_failures_per_account: int = Field(default=10, ge=1)
    login_max_failures_per_address: int = Field(default=50, ge=1)
    # Never lock the real owner out for longer than this, whatever the attacker does.
    login_lockout_seconds: int = Field(default=15 * 60, ge=1, le=15 * 60)
    # Argon2 computations run at once, on threads off the event loop (64 MiB, 4 lanes each); default: CPUs // 4, min 1.
    password_hash_concurrency: int | None = Field(default=None, ge=1, le=256)
    # Media pipeline.
    rtmp_enabled: bool = True
    rtmp_host: str = "0.0.0.0"  # noqa: S104 - encoders connect from other machines
    rtmp_public_url: str | None = None  # what creators paste into OBS; derived from public_url when unset
    # Open RTMP connections one client address may hold (refused past it); raise it behind a NAT or a restreamer.
    rtmp_max_connections_per_ip: int = Field(default=10, ge=1, le=100_000)
    ffmpeg: str | None = None  # default: the binary shipped in the imageio-ffmpeg wheel
    transcode: Literal["abr", "passthrough"] = "abr"
    # The top rung; 720 suits 2-core hosts, where a 1080p ladder cannot keep up in real time.
    transcode_max_height: int = Field(default=1080, ge=144, le=2160)
    hls_segment_seconds: float = Field(default=1.0, ge=0.5, le=10)
    reconnect_window_seconds: int = Field(default=60, ge=1, le=3600)
    thumbnail_seconds: int = Field(default=10, ge=5, le=60)
    log_level: str = "INFO"
    log_json: bool = True
    # Proxies (addresses or networks) whose X-Forwarded-For / X-Forwarded-Proto are believed; empty: none,
    # and the client address is the connection's. Comma-separated or a JSON list.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Request bodies larger than this are refused with 413 before they are read.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    # Realtime (chat, viewer counts). Browser origins allowed to open WebSockets besides the page's own
    # origin; empty means just LS_PUBLIC_URL. Comma-separated or a JSON list.
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # A viewer whose process died drops out of the count within this many seconds.
    presence_ttl_seconds: float = Field(default=25.0, ge=1, le=30)
    chat_history_seconds: int = Field(default=300, ge=10, le=3600)
    # Per user, across all streams: this many messages per window.
    chat_rate_limit_messages: int = Field(default=3, ge=1)
    chat_rate_limit_window_seconds: int = Field(default=2, ge=1, le=3600)
    # A socket whose unsent frames pass this many bytes is too slow to follow the chat and is dropped.
    ws_send_buffer_bytes: int = Field(default=256 * 1024, ge=4096)
    ws_ping_interval_seconds: float = Field(default=10.0, ge=1, le=60)
    # Background jobs. With LS_REDIS_URL they go through a Redis queue that `livestream worker` processes (and
    # `livestream serve`, unless jobs_in_process is false) consume; without it they run in this process.
    jobs_in_process: bool = True
    # The periodic reconcilers and purges, where jobs run (one process runs each period, whatever the count).
    jobs_periodic: bool = True
    jobs_queue: str = "livestream:jobs"
    # A failed job runs again after 2, 4, 8… seconds (capped at 5 minutes), up to jobs_max_attempts runs.
    jobs_retry_base_seconds: float = Field(default=2.0, gt=0, le=600)
    jobs_max_attempts: int = Field(default=5, ge=1, le=50)
    # How often the reconcilers look for work a crash left behind (one process runs each period).
    reconcile_interval_seconds: float = Field(default=60.0, ge=1, le=3600)
    # Notifications older than this are deleted (hourly).
    notification_retention_days: int = Field(default=90, ge=1, le=3650)
    # Followers are reminded of a planned stream this many minutes before it starts (once per start time).
    schedule_reminder_minutes: int = Field(default=15, ge=1, le=1440)
    # How often the reminder job looks for entries coming due (one process runs each period).
    schedule_reminder_check_seconds: float = Field(default=30.0, ge=1, le=600)
    # The go-live fan-out writes this many followers' rows per INSERT … SELECT, each batch committed on its own.
    notification_fan_out_batch: int = Field(default=5000, ge=1, le=50_000)
    # Email over SMTP (notification and account emails). No host: email is off, and the settings page says so.
    smtp_host: str | None = None
    # 465: TLS from the first byte; any other port: STARTTLS whenever the server offers it.
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    # The From of every email: an address, or "Name <address>"; required with a host.
    smtp_from: str | None = None
    # Refuse to send when the server does not offer STARTTLS (rather than sending in the clear).
    smtp_require_tls: bool = False
    # With LS_SMTP_USER, TLS (STARTTLS or port 465) is always required: the password never goes in clear text.
    # This lets it (a lab server without TLS); refused in production.
    smtp_allow_plaintext_auth: bool = False
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Sending one notification email is tried this many times (backoff as for every job) before giving up.
    smtp_attempts: int = Field(default=6, ge=1, le=50)
    # Archives: an MP4 download (the source remuxed, +faststart) beside the HLS VOD.
    archive_mp4: bool = False
    # Media storage (archives, VOD): files under media_dir, or one S3 bucket. S3 credentials are not settings:
    # boto3's standard chain finds them (AWS_* environment variables, AWS_PROFILE, the instance role).
    storage: Literal["local", "s3"] = "local"
    s3_bucket: str | None = None  # required with storage=s3
    s3_endpoint_url: str | None = None  # MinIO, R2, a local test server; unset: AWS itself
    s3_region: str = "us-east-1"
    # Lifetime of the presigned GET URLs handed to browsers when there is no CDN.
    s3_presign_seconds: int = Field(default=6 * 3600, ge=60, le=7 * 24 * 3600)
    # Files larger than this upload in parts of this size (S3's minimum part is 5 MiB).
    s3_multipart_threshold_bytes: int = Field(default=8 * 1024 * 1024, ge=5 * 1024 * 1024)
    # Browsers fetch S3 objects at f"{cdn_base_url}/{key}" instead of presigned URLs when set.
    cdn_base_url: str | None = None
    # `livestream storage apply-lifecycle` moves archives to GLACIER this many days after upload.
    archive_cold_after_days: int = Field(default=90, ge=1, le=3650)
    # Web Push (VAPID, RFC 8292). The private key: PEM, or the raw 32-byte P-256 key base64url-encoded; unset, one
    # is generated on first run and kept in the database (table vapid_keys) for every process.
    vapid_private_key: SecretStr | None = None
    # Who push services contact about our pushes: mailto: or https:. Unset: LS_PUBLIC_URL's https origin, else
    # mailto:webpush@<its host>.
    vapid_subject: str | None = None
    # Let push subscriptions name http URLs and private, loopback or link-local hosts (tests, a lab push
    # service). Refused in production: our server POSTs to these URLs.
    push_allow_private_endpoints: bool = False
    # Tips. "stripe": Stripe (PaymentIntents, Connect destination charges); "test": a local provider that acts
    # like Stripe's test mode (refused in production); unset: tips are off. `make run` sets "test".
    payments: Literal["stripe", "test"] | None = None
    stripe_secret_key: SecretStr | None = None
    stripe_publishable_key: str | None = None
    # Webhook signatures are checked with it (Stripe's signing secret, whsec_…). With the test provider, unset
    # means one derived from LS_SECRET_KEY.
    stripe_webhook_secret: SecretStr | None = None
    # The signing secret of a second endpoint for events on connected accounts (Stripe signs a Connect endpoint's
    # events with its own secret); `account.updated` comes that way.
    stripe_connect_webhook_secret: SecretStr | None = None
    # Where the SDK sends API calls (a proxy, or a local Stripe-compatible server); unset: Stripe itself.
    stripe_api_base: str | None = None
    # Our share of each tip, in percent of the amount (rounded down to the currency's minor unit).
    platform_fee_percent: Decimal = Field(default=Decimal(10), ge=0, le=50)
    # What a tip may be, in minor units (cents for USD and EUR; yen for JPY, which has none).
    tip_min_jpy: int = Field(default=100, ge=50, le=10_000_000)
    tip_max_jpy: int = Field(default=50_000, ge=50, le=10_000_000)
    tip_min_usd: int = Field(default=100, ge=50, le=10_000_000)
    tip_max_usd: int = Field(default=50_000, ge=50, le=10_000_000)
    tip_min_eur: int = Field(default=100, ge=50, le=10_000_000)
    tip_max_eur: int = Field(default=50_000, ge=50, le=10_000_000)
    # A creator's currency until their payout account says otherwise.
    tip_default_currency: Literal["JPY", "USD", "EUR"] = "JPY"
    # Where the test provider posts its signed events: our own webhook. Unset: this server on loopback.
    payments_test_webhook_url: str | None = None

    @field_validator("allowed_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        weak = self.secret_key.strip().lower() in PLACEHOLDER_SECRETS or len(self.secret_key) < MIN_SECRET_LENGTH
        if weak and self.env == "production":
            raise InsecureSettingsError(
                "LS_SECRET_KEY is missing, a placeholder or shorter than "
                f"{MIN_SECRET_LENGTH} characters; set a random one (python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))') or LS_ENV=development"
            )
        return self

    @field_validator("smtp_host", "smtp_user", "smtp_from", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _smtp_needs_a_sender(self) -> Settings:
        if self.smtp_host is None:
            return self
        if self.smtp_from is None:
            raise ValueError("LS_SMTP_HOST needs LS_SMTP_FROM (the address emails come from)")
        from livestream.mail.message import checked_sender

        checked_sender(self.smtp_from)  # ValueError names what is wrong
        return self

    @model_validator(mode="after")
    def _plaintext_smtp_auth_not_in_production(self) -> Settings:
        if self.smtp_allow_plaintext_auth and self.env == "production":
            raise InsecureSettingsError(
                "LS_SMTP_ALLOW_PLAINTEXT_AUTH sends the SMTP password unencrypted to any server (or man in the "
                "middle) that offers no STARTTLS; it is for tests and development only"
            )
        return self

    @field_validator("vapid_subject", mode="before")
    @classmethod
    def _vapid_subject(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip() or None
        if value is None:
            return None
        if not isinstance(value, str) or not _is_vapid_subject(value):
            raise ValueError("LS_VAPID_SUBJECT must be a mailto: address or an https: URL (RFC 8292)")
        return value

    @model_validator(mode="after")
    def _private_push_endpoints_not_in_production(self) -> Settings:
        if self.push_allow_private_endpoints and self.env == "production":
            raise InsecureSettingsError(
                "LS_PUSH_ALLOW_PRIVATE_ENDPOINTS lets users make this server POST to internal addresses; "
                "it is for tests and development only"
            )
        return self

    @field_validator("payments", mode="before")
    @classmethod
    def _no_payments(cls, value: object) -> object:
        # LS_PAYMENTS= (empty) turns tips off, also under `make run` (whose default is "test").
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _payments_configured(self) -> Settings:
        if self.payments == "test" and self.env == "production":
            raise InsecureSettingsError(
                "LS_PAYMENTS=test takes no money and lets anyone mark a tip paid; it is refused in production"
            )
        if self.payments == "stripe":
            missing = [
                name
                for name, value in (
                    ("LS_STRIPE_SECRET_KEY", self.stripe_secret_key),
                    ("LS_STRIPE_PUBLISHABLE_KEY", self.stripe_publishable_key),
                    ("LS_STRIPE_WEBHOOK_SECRET", self.stripe_webhook_secret),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"LS_PAYMENTS=stripe needs {', '.join(missing)}")
        for currency in ("jpy", "usd", "eur"):
            if getattr(self, f"tip_min_{currency}") > getattr(self, f"tip_max_{currency}"):
                raise ValueError(f"LS_TIP_MIN_{currency.upper()} is above LS_TIP_MAX_{currency.upper()}")
        return self

    def tip_limits(self, currency: str) -> tuple[int, int]:
        """The smallest and largest tip in ``currency`` (upper case), in minor units."""
        code = currency.lower()
        return getattr(self, f"tip_min_{code}"), getattr(self, f"tip_max_{code}")

    @property
    def payments_webhook_url(self) -> str:
        if self.payments_test_webhook_url:
            return self.payments_test_webhook_url
        # The server listens on self.host; "any address" is reached on loopback.
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1", "localhost": "127.0.0.1"}.get(  # noqa: S104
            self.host, self.host
        )
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/api/webhooks/stripe"

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Settings:
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("LS_STORAGE=s3 needs LS_S3_BUCKET (the bucket that holds the media)")
        return self

    @property
    def websocket_origins(self) -> frozenset[str]:
        origins = self.allowed_origins or [self.public_url]
        return frozenset(origin.rstrip("/").lower() for origin in origins)

    @property
    def media_origins(self) -> tuple[str, ...]:
        """Where browsers fetch archive media from besides this server: the CDN, or the S3 endpoint or bucket."""
        if self.storage != "s3":
            return ()
        if self.cdn_base_url:
            parts = urlsplit(self.cdn_base_url)
            return (f"{parts.scheme}://{parts.netloc}",)
        if self.s3_endpoint_url:
            parts = urlsplit(self.s3_endpoint_url)
            return (f"{parts.scheme}://{parts.netloc}",)
        bucket, region = self.s3_bucket, self.s3_region
        return (f"https://{bucket}.s3.{region}.amazonaws.com", f"https://{bucket}.s3.amazonaws.com")

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def rtmp_url(self) -> str:
        if self.rtmp_public_url:
            return self.rtmp_public_url.rstrip("/")
        host = urlsplit(self.public_url).hostname or "127.0.0.1"
        port = "" if self.rtmp_port == 1935 else f":{self.rtmp_port}"
        return f"rtmp://{host}{port}/live"

    @property
    def ffmpeg_path(self) -> str:
        if self.ffmpeg:
            return self.ffmpeg
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())

    @property
    def push_subject(self) -> str:
        """The VAPID ``sub`` claim: LS_VAPID_SUBJECT, or derived from LS_PUBLIC_URL."""
        if self.vapid_subject:
            return self.vapid_subject
        parts = urlsplit(self.public_url)
        host = parts.hostname or "localhost"
        if parts.scheme == "https":
            return f"https://{parts.netloc}"
        return f"mailto:webpush@{host}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _is_vapid_subject(value: str) -> bool:
    if not value.isascii() or not value.isprintable() or " " in value:
        return False
    if value.lower().startswith("mailto:"):
        local, at, domain = value[len("mailto:") :].partition("@")
        return bool(local and at and domain)
    try:
        parts = urlsplit(value)
        return parts.scheme == "https" and bool(parts.hostname)
    except ValueError:
        return False


def development_secret(var_dir: Path) -> str:
    """The local secret ``make run`` keeps under ``var/`` so tokens survive restarts."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


def load_settings(**overrides: object) -> Settings:
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if settings.env != "production" and len(settings.secret_key) < MIN_SECRET_LENGTH:
        settings = settings.model_copy(update={"secret_key": development_secret(settings.var_dir)})
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
