"""The contract between the outbox (tracker.notifications) and its transports (email, chat).

A transport raises `TransientDeliveryError` for failures worth retrying (timeouts, 429, 5xx,
SMTP 4xx) and `PermanentDeliveryError` for those that are not (other 4xx, SMTP 5xx, a platform
error code that will not change on retry); `DestinationGoneError`, a permanent error, when the
destination itself is gone (the chat transport then switches the channel off). The outbox
decides when to try again.

Chat payloads have this shape; each platform renders it to its native format at send time
(signatures and timestamps too, so a retry never carries a stale one). Report and test messages
store it whole in the outbox; alert messages store `{"alert_ids": [...]}` and are built into
it when sent (`tracker.alerts.notifications.alerts_chat`), like alert emails:

    {
      "event": "alerts" | "weekly_report" | "monthly_report" | "test",
      "title": "3 new alerts in Double 11",          # one line, already in the channel language
      "summary": "2 overdue, 1 escalation",           # optional second line
      "url": "https://milepost.example.com/...",     # absolute link for the whole message
      "items": [                                     # most urgent first; may be empty
        {"kind": "overdue", "kind_label": "Overdue", "milestone_id": 7, "title": "Price approval",
         "project_id": 1, "project": "Double 11", "department": "Merchandising",
         "assignee": "lena", "due_at": "2026-11-02T18:00:00+08:00", "url": "https://…/nodes/7/"}
      ],
      "report": {...}                                # report events only: the report as JSON
    }
"""

from dataclasses import dataclass


class DeliveryError(Exception):
    """A message could not be delivered."""


class NothingToSend(Exception):
    """The message's content is gone (its nodes or its report were deleted)."""


@dataclass
class TransientDeliveryError(DeliveryError):
    detail: str
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.detail


@dataclass
class PermanentDeliveryError(DeliveryError):
    detail: str

    def __str__(self) -> str:
        return self.detail


@dataclass
class DestinationGoneError(PermanentDeliveryError):
    """The destination answered that it no longer exists (HTTP 410 Gone): stop sending to it."""


@dataclass
class RateLimitedError(TransientDeliveryError):
    """Our own per-channel rate limit says wait: reschedule without counting a failed attempt."""
