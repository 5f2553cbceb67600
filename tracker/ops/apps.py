from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Running Milepost: health, readiness, metrics, logs, backups and personal data.

    The top layer: it may read every other package, and nothing imports it.
    """

    name = "tracker.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from tracker.ops import metrics

        metrics.connect_task_signals()
