from rest_framework import serializers

from tracker.workcal.calendar import Schedule, Source
from tracker.workcal.models import DayKind


class CalendarDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    kind = serializers.ChoiceField(choices=DayKind.choices)
    name = serializers.CharField(allow_null=True)
    source = serializers.ChoiceField(
        choices=[Source.LIBRARY, Source.OFFICIAL, Source.OVERRIDE],
        help_text="library: the holidays package; official: a schedule loaded from a file; "
        "override: the organisation's own.",
    )


class CalendarYearSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    schedule = serializers.ChoiceField(
        choices=[Schedule.OFFICIAL, Schedule.LIBRARY, Schedule.ESTIMATE],
        help_text="official: loaded from the State Council's schedule; library: the library "
        "ships it; estimate: the library only estimates the year.",
    )
    results = CalendarDaySerializer(many=True)


class CalendarYearQuerySerializer(serializers.Serializer):
    year = serializers.IntegerField(min_value=1950, max_value=2200, required=False)


class CalendarDateQuerySerializer(serializers.Serializer):
    date = serializers.DateField()


class CalendarOverrideSerializer(serializers.Serializer):
    date = serializers.DateField()
    kind = serializers.ChoiceField(choices=DayKind.choices)
    name = serializers.CharField(max_length=100)
    source = serializers.CharField(read_only=True, default=Source.OVERRIDE)
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )


class WorkingDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    working = serializers.BooleanField()
    name = serializers.CharField(allow_null=True)
