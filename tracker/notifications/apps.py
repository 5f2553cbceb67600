from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class NotificationsConfig(AppConfig):
    """The outbox and its plumbing, below the apps that send through it.

    Apps above plug in the way they plug into the admin: a `notifications` module of theirs,
    imported here once every model is loaded, registers their transports (`integrations`: chat)
    and renderers (`alerts`, `reports`). So this app never imports them.
    """

    name = "tracker.notifications"
    label = "notifications"

    def ready(self) -> None:
        from tracker.notifications import comments  # noqa: F401  (registers its email renderer)

        autodiscover_modules("notifications")
