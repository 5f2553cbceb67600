from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class PeriodicRun(models.Model):
    """A periodic task that beat started for one period (`tracker.core.beat`): the unique
    constraint lets only the first of several beats start it; the others' claims do nothing."""

    task = models.CharField(max_length=200)  # the periodic task's name in the schedule
    period_start = models.DateTimeField()
    claimed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "period_start"], name="core_periodic_run_once")
        ]

    def __str__(self) -> str:
        return f"{self.task} @ {self.period_start.isoformat()}"
