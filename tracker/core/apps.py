from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tracker.core"
    label = "core"

    def ready(self) -> None:
        from tracker.core import lookups  # noqa: F401  (registers the JSON `includes` lookup)
