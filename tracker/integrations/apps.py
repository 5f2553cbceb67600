from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "tracker.integrations"
    label = "integrations"

    def ready(self) -> None:
        from tracker.integrations import signin  # noqa: F401 (connects its receiver)
