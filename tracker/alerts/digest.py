"""The daily digest: each person's held alert emails merged into one."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from django.db import transaction

from tracker.accounts.models import User
from tracker.alerts.sql import CHUNK
from tracker.notifications.models import OutboxEvent, OutboxMessage, OutboxStatus
from tracker.notifications.services import outbox_flush_after_commit
from tracker.workcal.calendar import WorkingCalendar


def alerts_digest_time(*, now: datetime) -> datetime:
    """When the daily digest may go out: now in the organisation's working time (or with
    `ALERTS_AT_ANY_HOUR`), else at the start of the next working period (Monday 09:00 for a
    Saturday run, the day after a holiday for a run on one)."""
    return WorkingCalendar().quiet_until(now)


def alerts_digest_send(*, now: datetime) -> int:
    """Merge each person's held alert emails into one digest email. Returns digests queued.

    The held rows are locked (SKIP LOCKED), so two digests running at once split the work
    instead of sending a row twice. Rows held because the person muted the project
    (`muted_project`) wait while it stays muted, and go in the first digest after unmuting.
    """
    with transaction.atomic():
        held = list(
            OutboxMessage.objects.filter(status=OutboxStatus.HELD)
            .select_for_update(skip_locked=True)
            .order_by("created_at")
            .values_list("pk", "recipient_id", "payload")
        )
        muted = set(
            User.muted_projects.through.objects.filter(
                user_id__in={recipient for _pk, recipient, _payload in held}
            ).values_list("user_id", "project_id")
        )
        held = [row for row in held if (row[1], row[2].get("muted_project")) not in muted]
        if not held:
            return 0
        alert_ids: dict[int, set[int]] = defaultdict(set)
        for _pk, recipient_id, payload in held:
            alert_ids[recipient_id].update(payload.get("alert_ids", []))
        run = uuid.uuid4()
        OutboxMessage.objects.bulk_create(
            OutboxMessage(
                event=OutboxEvent.DIGEST,
                recipient_id=recipient_id,
                payload={"alert_ids": sorted(ids)},
                dedupe_key=f"digest:{run}:user:{recipient_id}",
                created_at=now,
                next_attempt_at=now,
            )
            for recipient_id, ids in alert_ids.items()
        )
        pks = [pk for pk, _recipient, _payload in held]
        for start in range(0, len(pks), CHUNK):
            OutboxMessage.objects.filter(pk__in=pks[start : start + CHUNK]).update(
                status=OutboxStatus.MERGED, sent_at=now
            )
        outbox_flush_after_commit(len(alert_ids))
    return len(alert_ids)
