"""Delivery channels, chosen by SLOTPROOF_DELIVERY: `providers` (Twilio SMS, SendGrid email),
`console` and `file` (development and tests only; production refuses them at start-up)."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from app.config import ConfigError, Settings
from app.notifications.base import (
    Channel,
    ChannelName,
    OutgoingMessage,
    Permanent,
    Retryable,
    SendResult,
)
from app.notifications.messages import Attachment
from app.notifications.sendgrid_email import SendGridEmail
from app.notifications.twilio_sms import TwilioSms

log = logging.getLogger("slotproof.notifications.console")

__all__ = [
    "Channel",
    "ConsoleChannel",
    "FileChannel",
    "OutgoingMessage",
    "Permanent",
    "Retryable",
    "SendGridEmail",
    "SendResult",
    "TwilioSms",
    "build_channels",
]


class ConsoleChannel:
    """Logs the whole message, code included: the one place a code may be printed."""

    async def send(self, message: OutgoingMessage) -> SendResult:
        subject = f" [{message.subject}]" if message.subject else ""
        files = "".join(f"\n[attached: {a.filename}]" for a in message.attachments)
        log.info(
            "console delivery (development only) %s to %s%s: %s%s",
            message.channel,
            message.to,
            subject,
            message.body,
            files,
            extra={"notificationId": message.notification_id, "purpose": message.purpose},
        )
        return SendResult(f"console-{uuid.uuid4().hex}")


class FileMessage(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    notification_id: int
    channel: str
    to: str
    purpose: str
    locale: str
    body: str
    created_at: datetime
    subject: str | None = None
    html: str | None = None
    code: str | None = None
    attachments: list[Attachment] | None = None
    headers: dict[str, str] | None = None


class FileChannel:
    """One JSON file per message in `directory`, written atomically (temp file + rename), so a
    reader globbing `*.json` never sees a partial file. Names sort by time of writing."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    async def send(self, message: OutgoingMessage) -> SendResult:
        document = FileMessage(
            notification_id=message.notification_id,
            channel=message.channel,
            to=message.to,
            purpose=message.purpose,
            locale=message.locale,
            body=message.body,
            created_at=datetime.now(UTC),
            subject=message.subject,
            html=message.html,
            code=message.code,
            attachments=list(message.attachments) or None,
            headers=message.headers,
        )
        name = f"{time.time_ns()}-{message.notification_id}.json"
        try:
            await asyncio.to_thread(self._write, name, msgspec.json.encode(document))
        except OSError as exc:
            raise Retryable(f"file {type(exc).__name__}") from None
        return SendResult(f"file-{name.removesuffix('.json')}")

    def _write(self, name: str, content: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            os.replace(temp, self.directory / name)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def build_channels(settings: Settings) -> dict[ChannelName, Channel]:
    """The channel for each of SMS and EMAIL, per `settings.delivery`."""
    if settings.delivery == "console":
        console = ConsoleChannel()
        return {"SMS": console, "EMAIL": console}
    if settings.delivery == "file":
        if settings.outbox_dir is None:
            raise ConfigError("SLOTPROOF_OUTBOX_DIR is required when SLOTPROOF_DELIVERY=file")
        files = FileChannel(settings.outbox_dir)
        return {"SMS": files, "EMAIL": files}
    s = settings
    if not (s.twilio_account_sid and s.twilio_auth_token):
        raise ConfigError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required for providers")
    if not (s.twilio_messaging_service_sid or s.twilio_from_number):
        raise ConfigError(
            "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID is required for providers"
        )
    if not (s.sendgrid_api_key and s.sendgrid_from_email):
        raise ConfigError("SENDGRID_API_KEY and SENDGRID_FROM_EMAIL are required for providers")
    return {
        "SMS": TwilioSms(
            account_sid=s.twilio_account_sid,
            auth_token=s.twilio_auth_token,
            public_url=s.public_url,
            messaging_service_sid=s.twilio_messaging_service_sid,
            from_number=s.twilio_from_number,
            timeout=s.provider_timeout_seconds,
            base_url=s.twilio_api_url,
        ),
        "EMAIL": SendGridEmail(
            api_key=s.sendgrid_api_key,
            from_email=s.sendgrid_from_email,
            timeout=s.provider_timeout_seconds,
            host=s.sendgrid_api_url,
        ),
    }
