from datetime import date

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.workcal.api.serializers import (
    CalendarDateQuerySerializer,
    CalendarOverrideSerializer,
    CalendarYearQuerySerializer,
    CalendarYearSerializer,
    WorkingDaySerializer,
)
from tracker.workcal.models import CalendarOverride
from tracker.workcal.selectors import calendar_day, calendar_year_days
from tracker.workcal.services import (
    calendar_authorize_edit,
    calendar_override_create,
    calendar_override_delete,
)


class CalendarView(APIView):
    """The working calendar of mainland China with the organisation's overrides."""

    conflict_actions = {"post"}  # the date has an override already

    @extend_schema(
        parameters=[OpenApiParameter("year", OpenApiTypes.INT, description="Default: this year.")],
        responses=CalendarYearSerializer,
    )
    def get(self, request):
        """Every non-standard day of the year: days off on weekdays, make-up workdays on
        weekends, and every organisation override."""
        query = CalendarYearQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        year = query.validated_data.get("year") or timezone.localdate().year
        schedule, days = calendar_year_days(year=year)
        return Response(
            CalendarYearSerializer({"year": year, "schedule": schedule, "results": days}).data
        )

    @extend_schema(request=CalendarOverrideSerializer, responses={201: CalendarOverrideSerializer})
    def post(self, request):
        """Add an organisation override (staff only; 409 when the date has one already)."""
        calendar_authorize_edit(actor=request.user)
        data = CalendarOverrideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        override = calendar_override_create(
            actor=request.user,
            day=data.validated_data["date"],
            kind=data.validated_data["kind"],
            name=data.validated_data["name"],
        )
        return Response(CalendarOverrideSerializer(override).data, status=status.HTTP_201_CREATED)


class CalendarOverrideView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, day: str):
        """Remove the organisation's override of a date (staff only)."""
        try:
            parsed = date.fromisoformat(day)
        except ValueError as exc:
            raise exceptions.ValidationError({"date": ["Give a date as YYYY-MM-DD."]}) from exc
        override = get_object_or_404(CalendarOverride, date=parsed)
        calendar_override_delete(actor=request.user, override=override)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkingDayView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("date", OpenApiTypes.DATE, required=True)],
        responses=WorkingDaySerializer,
    )
    def get(self, request):
        """Is this date a working day, and what is it called."""
        query = CalendarDateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        day = calendar_day(day=query.validated_data["date"])
        return Response(WorkingDaySerializer(day).data)
