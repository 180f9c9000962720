"""What a channel is given, what it answers, and how it fails."""

from __future__ import annotations

from typing import Literal, Protocol

import msgspec

from app.notifications.messages import Attachment

ChannelName = Literal["SMS", "EMAIL"]
CHANNELS: tuple[ChannelName, ...] = ("SMS", "EMAIL")


class OutgoingMessage(msgspec.Struct, frozen=True, kw_only=True):
    notification_id: int
    channel: ChannelName
    to: str
    purpose: str
    locale: str
    body: str  # the SMS text, or the email's plain-text part
    subject: str | None = None  # email only
    html: str | None = None  # email only
    code: str | None = None  # verification messages: for the file channel's JSON only
    attachments: tuple[Attachment, ...] = ()  # email only: the visit's .ics
    headers: dict[str, str] | None = None  # email only: extra headers (List-Unsubscribe)

    def __repr__(self) -> str:  # never the recipient or the code, should one be printed
        return (
            f"OutgoingMessage(notification_id={self.notification_id}, "
            f"channel={self.channel}, purpose={self.purpose})"
        )


class SendResult(msgspec.Struct, frozen=True):
    provider_message_id: str | None


class DeliveryError(Exception):
    """`reason` is short and safe to store and log: status codes and error classes only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Retryable(DeliveryError):
    """Worth trying again later: provider 5xx or 429, timeout, connection error."""


class Permanent(DeliveryError):
    """Trying again cannot help: a 4xx such as an invalid number or address."""


def for_status(provider: str, status: int, detail: str = "") -> DeliveryError:
    """The error for an HTTP status a provider answered."""
    reason = f"{provider} {status}{f' {detail}' if detail else ''}"
    if status >= 500 or status in (408, 425, 429):
        return Retryable(reason)
    return Permanent(reason)


class Channel(Protocol):
    async def send(self, message: OutgoingMessage) -> SendResult:
        """Hand the message to the provider; raise Retryable or Permanent on failure."""
        ...
