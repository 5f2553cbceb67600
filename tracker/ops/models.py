from django.db import models


class Heartbeat(models.Model):
    """The last time a periodic job proved the background machinery alive.

    `beat` is written by the `ops.heartbeat` task, which beat schedules every 30 seconds and a
    worker runs: it goes stale when beat stops, when no worker takes tasks, or when the broker
    loses them. Operational state: not exported with the data.
    """

    name = models.CharField(max_length=40, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.at:%Y-%m-%d %H:%M:%S}"
