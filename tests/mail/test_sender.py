"""The mail package against a real SMTP server on loopback: what is sent, refusals, outages, settings."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr, ValidationError

from livestream.config import InsecureSettingsError, Settings
from livestream.mail.message import InvalidEmail, OutgoingEmail, checked_sender, to_mime
from livestream.mail.sender import MailError, SmtpMailer, make_mailer
from tests.support.smtp_server import SENDER, SmtpServer, running_smtp_server


def mailer_for(server: SmtpServer, **kwargs: object) -> SmtpMailer:
    return SmtpMailer(host=server.host, port=server.port, sender=SENDER, timeout=5, **kwargs)  # type: ignore[arg-type]


def sample(**changes: object) -> OutgoingEmail:
    values: dict[str, object] = {
        "to": "viewer@example.com",
        "subject": "Ada is live: <b>Café</b> night",
        "text": "Watch: https://live.example.com/watch/1",
        "html": "<p>Watch <a href='https://live.example.com/watch/1'>here</a> — café</p>",
        "headers": {"List-Unsubscribe": "<https://live.example.com/u?t=1>"},
    }
    values.update(changes)
    return OutgoingEmail(**values)  # type: ignore[arg-type]


async def test_a_message_arrives_with_both_parts_and_its_headers(smtp_server: SmtpServer) -> None:
    await mailer_for(smtp_server).send(sample())
    (got,) = await smtp_server.wait_for(1)
    assert got.recipients == ["viewer@example.com"]
    assert got.mail_from == "noreply@livestream.example.com"
    message = got.message
    assert message["Subject"] == "Ada is live: <b>Café</b> night"
    assert message["To"] == "viewer@example.com"
    assert message["From"] == SENDER
    assert message["List-Unsubscribe"] == "<https://live.example.com/u?t=1>"
    assert message["Message-ID"].endswith("@livestream.example.com>")
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    assert got.part("plain").strip() == "Watch: https://live.example.com/watch/1"
    assert "café" in got.part("html")


async def test_every_message_has_its_own_message_id(smtp_server: SmtpServer) -> None:
    mailer = mailer_for(smtp_server)
    await mailer.send(sample())
    await mailer.send(sample())
    first, second = await smtp_server.wait_for(2)
    assert first.message["Message-ID"] != second.message["Message-ID"]


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "Hello\r\nBcc: victim@example.com"},
        {"subject": "Hello\nBcc: victim@example.com"},
        {"subject": "nul\x00"},
        {"to": "viewer@example.com\r\nBcc: victim@example.com"},
        {"to": "viewer@example.com, victim@example.com"},
        {"to": "not an address"},
        {"headers": {"List-Unsubscribe": "<https://x>\r\nBcc: victim@example.com"}},
        {"headers": {"Bcc": "victim@example.com"}},
        {"headers": {"X-Bad Name": "v"}},
        {"subject": "x" * 301},
        {"html": "a\x00b"},
    ],
)
def test_header_injection_and_malformed_messages_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidEmail):
        sample(**changes)


async def test_nothing_reaches_the_server_for_a_refused_message(smtp_server: SmtpServer) -> None:
    with pytest.raises(InvalidEmail):
        await mailer_for(smtp_server).send(sample(subject="Hi\r\nBcc: victim@example.com"))
    await mailer_for(smtp_server).send(sample(subject="the next one"))
    (got,) = await smtp_server.wait_for(1)
    assert got.message["Subject"] == "the next one"
    assert got.message["Bcc"] is None


def test_long_subjects_are_folded_not_broken() -> None:
    mime = to_mime(sample(subject="word " * 50), checked_sender(SENDER))
    wire = mime.as_bytes()
    assert all(len(line) <= 998 for line in wire.split(b"\r\n"))


async def test_a_server_that_is_down_is_a_retryable_error(smtp_server: SmtpServer) -> None:
    smtp_server.stop()
    with pytest.raises(MailError) as caught:
        await mailer_for(smtp_server).send(sample())
    assert caught.value.permanent is False
    smtp_server.start()
    await mailer_for(smtp_server).send(sample())
    assert len(await smtp_server.wait_for(1)) == 1


@pytest.mark.parametrize(
    ("reply", "permanent"), [("451 4.3.0 Try again later", False), ("550 5.1.1 No such user", True)]
)
async def test_refusals_say_whether_to_retry(smtp_server: SmtpServer, reply: str, permanent: bool) -> None:
    smtp_server.refuse = reply
    with pytest.raises(MailError) as caught:
        await mailer_for(smtp_server).send(sample())
    assert caught.value.permanent is permanent
    assert caught.value.code == int(reply[:3])
    assert smtp_server.received() == []


async def test_required_tls_refuses_a_server_without_starttls(smtp_server: SmtpServer) -> None:
    with pytest.raises(MailError) as caught:
        await mailer_for(smtp_server, require_tls=True).send(sample())
    assert caught.value.permanent is False
    assert smtp_server.received() == []


def test_the_password_is_never_in_the_mailer_repr() -> None:
    mailer = SmtpMailer(host="smtp.example.com", port=587, sender=SENDER, username="u", password="hunter2-secret")
    assert "hunter2" not in repr(mailer)


def base_settings(**values: object) -> Settings:
    return Settings(env="test", secret_key="s" * 40, **values)  # type: ignore[arg-type]


def test_no_host_means_no_mailer() -> None:
    assert make_mailer(base_settings()) is None
    assert make_mailer(base_settings(smtp_host="  ")) is None


def test_a_host_needs_a_valid_sender() -> None:
    with pytest.raises(ValidationError, match="LS_SMTP_FROM"):
        base_settings(smtp_host="smtp.example.com")
    with pytest.raises(ValidationError, match="LS_SMTP_FROM"):
        base_settings(smtp_host="smtp.example.com", smtp_from="nobody")
    with pytest.raises(ValidationError, match="one line"):
        base_settings(smtp_host="smtp.example.com", smtp_from="a@example.com\r\nBcc: b@example.com")


def test_settings_make_an_smtp_mailer_and_keep_the_password_secret() -> None:
    settings = base_settings(
        smtp_host="smtp.example.com",
        smtp_from="LiveStream <noreply@example.com>",
        smtp_user="u",
        smtp_password="pw-123",
    )
    assert isinstance(settings.smtp_password, SecretStr)
    assert "pw-123" not in repr(settings)
    mailer = make_mailer(settings)
    assert isinstance(mailer, SmtpMailer)
    assert mailer.port == 587
    assert mailer.sender.addr_spec == "noreply@example.com"


# --- AUTH only over TLS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_contexts(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: the server's context, and a client context that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("smtp-tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


@pytest.fixture
def plain_auth_server() -> Iterator[SmtpServer]:
    """A server that offers no STARTTLS yet takes AUTH in clear text (or a man in the middle that stripped it)."""
    with running_smtp_server(auth=True) as server:
        yield server


async def test_the_password_is_never_sent_without_tls(plain_auth_server: SmtpServer) -> None:
    mailer = mailer_for(plain_auth_server, username="mailer", password="hunter2-secret")
    with pytest.raises(MailError) as caught:
        await mailer.send(sample())
    assert caught.value.permanent is True
    assert "STARTTLS" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert plain_auth_server.logins == []
    assert plain_auth_server.received() == []


async def test_plaintext_auth_only_when_the_operator_opts_out(plain_auth_server: SmtpServer) -> None:
    mailer = mailer_for(plain_auth_server, username="mailer", password="pw", allow_plaintext_auth=True)
    await mailer.send(sample())
    assert len(await plain_auth_server.wait_for(1)) == 1
    assert [(login.login, login.encrypted) for login in plain_auth_server.logins] == [("mailer", False)]


async def test_without_a_user_a_server_without_starttls_still_gets_mail(plain_auth_server: SmtpServer) -> None:
    await mailer_for(plain_auth_server).send(sample())
    assert len(await plain_auth_server.wait_for(1)) == 1
    assert plain_auth_server.logins == []


async def test_the_password_goes_over_starttls(tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, client_context = tls_contexts
    with running_smtp_server(tls_context=server_context, auth=True) as server:
        mailer = mailer_for(server, username="mailer", password="pw-123", tls_context=client_context)
        await mailer.send(sample())
        (got,) = await server.wait_for(1)
        assert got.recipients == ["viewer@example.com"]
        assert [(login.login, login.password, login.encrypted) for login in server.logins] == [
            ("mailer", "pw-123", True)
        ]


def test_plaintext_auth_is_refused_in_production() -> None:
    with pytest.raises(InsecureSettingsError, match="LS_SMTP_ALLOW_PLAINTEXT_AUTH"):
        Settings(env="production", secret_key="s" * 40, smtp_allow_plaintext_auth=True)
    settings = base_settings(
        smtp_host="smtp.example.com", smtp_from="noreply@example.com", smtp_user="u", smtp_allow_plaintext_auth=True
    )
    mailer = make_mailer(settings)
    assert isinstance(mailer, SmtpMailer)
    assert mailer.allow_plaintext_auth is True
