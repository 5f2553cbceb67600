"""Writes of the operations layer."""

from datetime import datetime

from tracker.ops.models import Heartbeat

BEAT = "beat"


def heartbeat_record(*, now: datetime, name: str = BEAT) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"at": now})
