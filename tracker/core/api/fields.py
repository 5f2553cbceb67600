"""API fields that refuse, with a field message, what the database would otherwise answer with
a server error: NUL characters, time-zone-naive or out-of-range datetimes."""

from datetime import UTC, datetime, timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)
# Real time zones lie between UTC−12 and UTC+14; PostgreSQL refuses offsets past ±16 h.
OFFSETS = (timedelta(hours=-12), timedelta(hours=14))


def api_datetime_error(value: datetime) -> str | None:
    """Why the API refuses this moment, or None. A time zone-naive time is refused rather than
    read in TIME_ZONE: a client in another zone would be off by hours without knowing it."""
    offset = value.utcoffset()
    if offset is None:
        return "Give a time zone offset, e.g. 2027-11-11T00:00:00+08:00 or …Z."
    if not OFFSETS[0] <= offset <= OFFSETS[1]:
        return "The time zone offset must lie between -12:00 and +14:00."
    if not EARLIEST <= value < LATEST:
        return "Give a date between the years 2000 and 2100."
    return None


def has_nul(value) -> bool:
    return isinstance(value, str) and "\x00" in value


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 moment with its offset, between 2000 and 2100."""

    def to_internal_value(self, value):
        parsed = value
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
        if isinstance(parsed, datetime) and (error := api_datetime_error(parsed)):
            raise serializers.ValidationError(error, code="invalid")
        return super().to_internal_value(value)


class SlugRelatedField(serializers.SlugRelatedField):
    """DRF's, refusing a NUL character (which PostgreSQL cannot compare) as not found."""

    def to_internal_value(self, data):
        if has_nul(data):
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", ""))
        return super().to_internal_value(data)


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class CodeOrIdRelatedField(serializers.RelatedField):
    """Accepts an object's id or its code (e.g. a template by 7 or "sale-campaign")."""

    default_error_messages = {
        "does_not_exist": "No {name} with id or code “{value}”.",
        "invalid": "Give an id or a code.",
    }

    def __init__(self, *, slug_field: str = "code", **kwargs):
        self.slug_field = slug_field
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, (int, str)) or data == "" or has_nul(data):
            self.fail("invalid")
        queryset = self.get_queryset()
        lookup = {"pk": int(data)} if str(data).isdecimal() else {self.slug_field: data}
        obj = queryset.filter(**lookup).first()
        if obj is None:
            self.fail("does_not_exist", name=queryset.model._meta.verbose_name, value=data)
        return obj

    def to_representation(self, value):
        return getattr(value, self.slug_field)


class AwareIsoDateTimeFormField(forms.DateTimeField):
    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is None:
                raise DjangoValidationError("Give an ISO 8601 date and time.", code="invalid")
            if error := api_datetime_error(parsed):
                raise DjangoValidationError(error, code="invalid")
            return parsed
        return super().to_python(value)


class AwareIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """A query-string moment under the same rules as a body's (`AwareDateTimeField`)."""

    field_class = AwareIsoDateTimeFormField
