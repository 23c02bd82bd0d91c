"""The mail package against a real SMTP server on loopback: what is sent, refusals, outages, settings."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from livestream.config import Settings
from livestream.mail.message import InvalidEmail, OutgoingEmail, checked_sender, to_mime
from livestream.mail.sender import MailError, SmtpMailer, make_mailer
from tests.support.smtp_server import SENDER, SmtpServer


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
