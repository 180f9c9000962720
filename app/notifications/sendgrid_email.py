"""Email through SendGrid's v3 mail send (the official SDK, run in a worker thread)."""

from __future__ import annotations

import asyncio
import base64
import http.client
import logging
import urllib.error

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Attachment,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    Header,
    Mail,
)

from app.notifications.base import OutgoingMessage, Retryable, SendResult, for_status

# custom arg carried into every Event Webhook event, so callbacks find their notification
NOTIFICATION_ARG = "notification_id"

# python_http_client logs request payloads (recipient, text) at DEBUG
logging.getLogger("python_http_client").setLevel(logging.WARNING)


class SendGridEmail:
    def __init__(
        self,
        *,
        api_key: str,
        from_email: str,
        timeout: float = 10.0,
        host: str = "https://api.sendgrid.com",
    ) -> None:
        self._client = SendGridAPIClient(api_key=api_key, host=host.rstrip("/"))
        self._client.client.timeout = timeout  # inherited by the /mail/send child client
        self.from_email = from_email

    async def send(self, message: OutgoingMessage) -> SendResult:
        return await asyncio.to_thread(self._send, message)

    def _send(self, message: OutgoingMessage) -> SendResult:
        mail = Mail(
            from_email=self.from_email,
            to_emails=message.to,
            subject=message.subject or "",
            plain_text_content=message.body,
            html_content=message.html or None,
        )
        mail.custom_arg = CustomArg(NOTIFICATION_ARG, str(message.notification_id))
        for item in message.attachments:
            mail.add_attachment(
                Attachment(
                    FileContent(base64.b64encode(item.content.encode()).decode()),
                    FileName(item.filename),
                    FileType(item.content_type),
                    Disposition("attachment"),
                )
            )
        for name, value in (message.headers or {}).items():
            mail.header = Header(name, value)
        try:
            response = self._client.send(mail)
        except HTTPError as exc:
            # the error body may quote the address: keep the status only
            raise for_status("sendgrid", int(exc.status_code)) from None
        except TimeoutError:
            raise Retryable("sendgrid timeout") from None
        except urllib.error.URLError as exc:
            timed_out = isinstance(exc.reason, TimeoutError)
            raise Retryable("sendgrid timeout" if timed_out else "sendgrid URLError") from None
        except (OSError, http.client.HTTPException) as exc:
            raise Retryable(f"sendgrid {type(exc).__name__}") from None
        headers = response.headers
        message_id = headers.get("X-Message-Id") if headers is not None else None
        return SendResult(message_id or None)
