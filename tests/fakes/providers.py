"""A local fake of the Twilio and SendGrid HTTP APIs that records every request.

The real SDKs are pointed at it (`client.api.base_url`, `SendGridAPIClient(host=...)`). Each
provider answers from a script of faults, then succeeds:

    fake.script("twilio", 500, HANG, 400)   # 500, then no answer at all, then 400, then 201s

Every request is recorded with what it was answered (`None` for a hang), so tests can check the
exact request a provider would have received and count the messages it accepted.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx

HANG = "hang"
TWILIO = "twilio"
SENDGRID = "sendgrid"


@dataclass
class Recorded:
    provider: str
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    answered: int | None = None  # status sent back; None: the fake hung up without answering
    answer: dict[str, Any] = field(default_factory=dict)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def accepted(self) -> bool:
        return self.answered is not None and 200 <= self.answered < 300

    @property
    def recipient(self) -> str | None:
        if self.provider == TWILIO:
            return self.form.get("To")
        try:
            return self.json["personalizations"][0]["to"][0]["email"]
        except (ValueError, KeyError, IndexError):
            return None


class FakeProviders:
    def __init__(self, hang_seconds: float = 5.0) -> None:
        self.requests: list[Recorded] = []
        self._scripts: dict[str, deque[int | str]] = {TWILIO: deque(), SENDGRID: deque()}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.hang_seconds = hang_seconds
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, provider: str, *answers: int | str) -> None:
        """Answer the next requests to `provider` with these statuses (or HANG), then succeed."""
        with self._lock:
            self._scripts[provider].extend(answers)

    def to(self, recipient: str, provider: str | None = None) -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self.requests
                if r.recipient == recipient and (provider is None or r.provider == provider)
            ]

    def accepted_for(self, recipient: str) -> list[Recorded]:
        return [r for r in self.to(recipient) if r.accepted]

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()

    # called from the server's threads
    def _next_answer(self, provider: str) -> int | str | None:
        with self._lock:
            script = self._scripts[provider]
            return script.popleft() if script else None

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)

    def _hang(self) -> None:
        self._closing.wait(self.hang_seconds)


def _provider(path: str) -> str | None:
    if path.startswith("/2010-04-01/"):
        return TWILIO
    if path.startswith("/v3/"):
        return SENDGRID
    return None


def _handler(fake: FakeProviders) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            provider = _provider(self.path)
            recorded = Recorded(
                provider=provider or "unknown",
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            fake._record(recorded)
            if provider is None:
                self._reply(recorded, 404, {"message": "not found"})
                return
            answer = fake._next_answer(provider)
            if answer == HANG:
                fake._hang()
                self.close_connection = True
                return
            if provider == TWILIO:
                self._twilio(recorded, answer)
            else:
                self._sendgrid(recorded, answer)

        def _twilio(self, recorded: Recorded, answer: int | str | None) -> None:
            if isinstance(answer, int):
                self._reply(
                    recorded,
                    answer,
                    {
                        "code": 21211 if answer == 400 else 20500,
                        "message": f"The 'To' number {recorded.form.get('To')} is not valid.",
                        "more_info": "https://www.twilio.com/docs/errors/21211",
                        "status": answer,
                    },
                )
                return
            account = recorded.path.split("/")[3]
            self._reply(
                recorded,
                201,
                {
                    "sid": "SM" + secrets.token_hex(16),
                    "account_sid": account,
                    "status": "queued",
                    "to": recorded.form.get("To"),
                    "body": recorded.form.get("Body"),
                    "messaging_service_sid": recorded.form.get("MessagingServiceSid"),
                    "from": recorded.form.get("From"),
                },
            )

        def _sendgrid(self, recorded: Recorded, answer: int | str | None) -> None:
            if isinstance(answer, int):
                self._reply(
                    recorded,
                    answer,
                    {"errors": [{"message": "The to email is invalid.", "field": "to"}]},
                )
                return
            message_id = secrets.token_urlsafe(16)
            self._reply(recorded, 202, None, {"X-Message-Id": message_id})

        def _reply(
            self,
            recorded: Recorded,
            status: int,
            payload: dict[str, Any] | None,
            headers: dict[str, str] | None = None,
        ) -> None:
            body = json.dumps(payload).encode() if payload is not None else b""
            recorded.answered = status
            recorded.answer = {"json": payload, "headers": headers or {}}
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                recorded.answered = None  # the client had gone: nothing was accepted

    return Handler


TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-test-auth-token"
MESSAGING_SERVICE = "MG" + "fedcba9876543210" * 2
SENDGRID_KEY = "SG.test-key"
FROM_EMAIL = "no-reply@slotproof.test"
PUBLIC_URL = "https://slotproof.test"


def provider_settings(fake: FakeProviders, **overrides: Any):
    """Settings delivering through the real SDKs to `fake`, with fast retries."""
    from app.config import Settings

    values: dict[str, Any] = {
        "delivery": "providers",
        "public_url": PUBLIC_URL,
        "twilio_account_sid": TWILIO_SID,
        "twilio_auth_token": TWILIO_TOKEN,
        "twilio_messaging_service_sid": MESSAGING_SERVICE,
        "sendgrid_api_key": SENDGRID_KEY,
        "sendgrid_from_email": FROM_EMAIL,
        "twilio_api_url": fake.url,
        "sendgrid_api_url": fake.url,
        "provider_timeout_seconds": 0.5,
        "delivery_backoff_base_seconds": 0.001,
        "delivery_backoff_cap_seconds": 0.005,
        "in_process_worker": False,
        **overrides,
    }
    return Settings(**values)


@asynccontextmanager
async def provider_facing_client(
    database_url: str, outbox_dir, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The app as the providers reach it: it knows their secrets (the session app has none)
    and sits behind a proxy (its public URL is not the address the client uses)."""
    from app.config import Settings
    from app.main import create_app
    from tests.conftest import TEST_SECRET_KEY
    from tests.support import running

    settings = Settings(
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        public_url=PUBLIC_URL,
        delivery="file",
        outbox_dir=outbox_dir,
        twilio_auth_token=TWILIO_TOKEN,
        in_process_worker=False,
        db_pool_min=1,
        db_pool_max=4,
        **overrides,
    )
    application = create_app(settings)
    async with running(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://internal:8000") as c:
            yield c
