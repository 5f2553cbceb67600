from celery import shared_task
from django.utils import timezone

from tracker.ops import services


@shared_task(name="ops.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Every 30 seconds (beat): readiness and metrics read how long ago this last ran."""
    services.heartbeat_record(now=timezone.now())
