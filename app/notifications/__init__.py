"""Notifications: a transactional outbox of SMS and email messages and its delivery worker.

- `outbox.enqueue(conn, ...)`: queue a message in the caller's transaction.
- `worker.run_once / run_forever`: claim due rows (SKIP LOCKED), send, retry with backoff.
- `channels.build_channels(settings)`: Twilio + SendGrid, console, or file, per SLOTPROOF_DELIVERY.
- `callbacks`: the Twilio and SendGrid delivery-status callbacks.
- `messages`: every message text, per purpose and locale.
"""

from app.notifications.outbox import enqueue, mask_recipient

__all__ = ["enqueue", "mask_recipient"]
