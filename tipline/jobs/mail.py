"""E-mail sent by the background tasks: the SMTP settings and one send."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    mail_from: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False

    @classmethod
    def from_config(cls, config: Any) -> MailSettings:
        return cls(
            host=config["SMTP_HOST"],
            port=int(config["SMTP_PORT"]),
            mail_from=config["MAIL_FROM"],
            username=config.get("SMTP_USERNAME") or None,
            password=config.get("SMTP_PASSWORD") or None,
            starttls=bool(config.get("SMTP_STARTTLS")),
        )


def send_mail(
    settings: MailSettings, to: str, subject: str, body: str, message_id: str | None = None
) -> None:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    message.set_content(body)
    with smtplib.SMTP(settings.host, settings.port, timeout=30) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(message)


def mail_domain(config: Any) -> str:
    """The domain of Message-IDs: MAIL_FROM's."""
    return str(config["MAIL_FROM"]).rpartition("@")[2] or "localhost"
