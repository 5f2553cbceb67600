from celery import shared_task
from django.utils import timezone

from tracker.notifications.inbox import inbox_purge
from tracker.ops import personal, services


@shared_task(name="ops.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Every 30 seconds (beat): readiness and metrics read how long ago this last ran."""
    services.heartbeat_record(now=timezone.now())


@shared_task(name="ops.purge_chat_identities", ignore_result=True)
def purge_chat_identities() -> None:
    """Daily (beat), the retention job: deactivated people's chat accounts and old inbox items
    go after their retention periods."""
    now = timezone.now()
    personal.chat_identities_purge(now=now)
    inbox_purge(now=now)
