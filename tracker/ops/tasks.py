from celery import shared_task
from django.utils import timezone

from tracker.ops import personal, services


@shared_task(name="ops.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Every 30 seconds (beat): readiness and metrics read how long ago this last ran."""
    services.heartbeat_record(now=timezone.now())


@shared_task(name="ops.purge_chat_identities", ignore_result=True)
def purge_chat_identities() -> None:
    """Daily (beat): deactivated people's chat accounts go after the retention period."""
    personal.chat_identities_purge(now=timezone.now())
