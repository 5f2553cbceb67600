"""The organisation's working calendar: its own overrides and the official schedules it loaded.

The days the `holidays` library knows are not stored: they are read from the pinned library.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tracker.core.models import TimeStampedModel


class DayKind(models.TextChoices):
    HOLIDAY = "holiday", _("Day off")
    WORKDAY = "workday", _("Make-up workday")


class RollRule(models.TextChoices):
    """Where a date that falls on a non-working day goes."""

    PREVIOUS = "previous", _("the previous working day")
    NEXT = "next", _("the next working day")


class CalendarOverride(TimeStampedModel):
    """A day the organisation works or takes off against the public calendar."""

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=DayKind.choices)
    name = models.CharField(_("name"), max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
        editable=False,
    )

    class Meta:
        ordering = ["date"]
        verbose_name = _("calendar override")
        verbose_name_plural = _("calendar overrides")

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.get_kind_display()}: {self.name}"


class OfficialYear(models.Model):
    """A year whose official schedule was loaded (`load_calendar_year`); it replaces the
    library's days for that year."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    loaded_at = models.DateTimeField(_("loaded at"))
    loaded_from = models.CharField(_("loaded from"), max_length=255, blank=True)

    class Meta:
        ordering = ["-year"]
        verbose_name = _("official schedule")
        verbose_name_plural = _("official schedules")

    def __str__(self) -> str:
        return str(self.year)


class OfficialDay(models.Model):
    year = models.ForeignKey(OfficialYear, on_delete=models.CASCADE, related_name="days")
    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=DayKind.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("official day")
        verbose_name_plural = _("official days")

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.kind}"
