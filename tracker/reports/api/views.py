from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.reports.api.serializers import (
    MonthlyReportSerializer,
    ReportQuerySerializer,
    WeeklyReportSerializer,
)
from tracker.reports.periods import month_period, parse_month, parse_week, week_period
from tracker.reports.selectors import deviation_report, monthly_report

SCOPE_PARAMETERS = [
    OpenApiParameter("project", OpenApiTypes.INT, description="Only this project's nodes."),
    OpenApiParameter("department", OpenApiTypes.STR, description="Only this department (code)."),
]


class _ReportView(APIView):
    parameter = ""

    def _scope(self, request) -> dict:
        query = ReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return {
            "project_id": query.validated_data.get("project"),
            "department_id": query.validated_data.get("department"),
        }

    def _period(self, request, parse, current):
        value = request.query_params.get(self.parameter)
        if not value:
            return current(timezone.now())
        try:
            return parse(value)
        except ValidationError as error:
            raise exceptions.ValidationError({self.parameter: error.messages}) from error


class WeeklyReportView(_ReportView):
    """The deviation rate of one ISO week (the current week by default)."""

    parameter = "week"

    @extend_schema(
        parameters=[
            OpenApiParameter("week", OpenApiTypes.STR, description="ISO week, e.g. 2026-W47."),
            *SCOPE_PARAMETERS,
        ],
        responses=WeeklyReportSerializer,
    )
    def get(self, request):
        period = self._period(request, parse_week, week_period)
        report = deviation_report(period=period, **self._scope(request))
        return Response(WeeklyReportSerializer(report).data)


class MonthlyReportView(_ReportView):
    """The deviation rate of one calendar month, with its weekly trend and department ranking."""

    parameter = "month"

    @extend_schema(
        parameters=[
            OpenApiParameter("month", OpenApiTypes.STR, description="Month, e.g. 2026-11."),
            *SCOPE_PARAMETERS,
        ],
        responses=MonthlyReportSerializer,
    )
    def get(self, request):
        period = self._period(request, parse_month, month_period)
        report = monthly_report(period=period, **self._scope(request))
        return Response(MonthlyReportSerializer(report).data)
