"""SMS through the Twilio Messages API (the official SDK, run in a worker thread)."""

from __future__ import annotations

import asyncio
import logging

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.notifications.base import OutgoingMessage, Permanent, Retryable, SendResult, for_status

STATUS_CALLBACK_PATH = "/callbacks/twilio/status"
# our notification id rides in each message's (signed) callback URL, so a status callback that
# arrives before the worker has stored Twilio's message SID still finds its notification
NOTIFICATION_QUERY = "notification"

# The SDK logs every request's URL and headers at INFO; ours say what matters.
_sdk_log = logging.getLogger("slotproof.twilio_sdk")
_sdk_log.setLevel(logging.WARNING)


class TwilioSms:
    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        public_url: str,
        messaging_service_sid: str | None = None,
        from_number: str | None = None,
        timeout: float = 10.0,
        base_url: str | None = None,
    ) -> None:
        if not (messaging_service_sid or from_number):
            raise ValueError("a messaging service SID or a from number is required")
        self._client = Client(
            account_sid,
            auth_token,
            http_client=TwilioHttpClient(timeout=timeout, logger=_sdk_log),
        )
        if base_url:
            self._client.api.base_url = base_url.rstrip("/")
        self._sender = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid
            else {"from_": from_number}
        )
        self.status_callback = f"{public_url.rstrip('/')}{STATUS_CALLBACK_PATH}"

    async def send(self, message: OutgoingMessage) -> SendResult:
        return await asyncio.to_thread(self._send, message)

    def _send(self, message: OutgoingMessage) -> SendResult:
        try:
            created = self._client.messages.create(
                to=message.to,
                body=message.body,
                status_callback=(
                    f"{self.status_callback}?{NOTIFICATION_QUERY}={message.notification_id}"
                ),
                **self._sender,
            )
        except TwilioRestException as exc:
            # exc.msg may quote the number: keep Twilio's numeric error code only
            code = f"code {exc.code}" if isinstance(exc.code, int) else ""
            raise for_status("twilio", exc.status, code) from None
        except requests.Timeout:
            raise Retryable("twilio timeout") from None
        except requests.RequestException as exc:
            raise Retryable(f"twilio {type(exc).__name__}") from None
        except TwilioException as exc:
            raise Permanent(f"twilio {type(exc).__name__}") from None
        return SendResult(created.sid)
