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
from tracker.reports.periods import PeriodKind, default_period, parse_period
from tracker.reports.selectors import report_of_record

SCOPE_PARAMETERS = [
    OpenApiParameter("project", OpenApiTypes.INT, description="Only this project's nodes."),
    OpenApiParameter("department", OpenApiTypes.STR, description="Only this department (code)."),
]


class _ReportView(APIView):
    kind: PeriodKind  # also the name of the period's query parameter

    def _scope(self, request) -> dict:
        query = ReportQuerySerializer(data=request.query_params, context={"request": request})
        query.is_valid(raise_exception=True)
        return {
            "project_id": query.validated_data.get("project"),
            "department_id": query.validated_data.get("department"),
        }

    def _period(self, request):
        value = request.query_params.get(self.kind)
        if not value:
            return default_period(self.kind, timezone.now())
        try:
            return parse_period(self.kind, value)
        except ValidationError as error:
            raise exceptions.ValidationError({self.kind: error.messages}) from error


class WeeklyReportView(_ReportView):
    """The deviation rate of one ISO week (the current week by default)."""

    kind = PeriodKind.WEEK

    @extend_schema(
        parameters=[
            OpenApiParameter(
                PeriodKind.WEEK.value, OpenApiTypes.STR, description="ISO week, e.g. 2026-W47."
            ),
            *SCOPE_PARAMETERS,
        ],
        responses=WeeklyReportSerializer,
    )
    def get(self, request):
        period = self._period(request)
        report = report_of_record(period=period, **self._scope(request))
        return Response(WeeklyReportSerializer(report).data)


class MonthlyReportView(_ReportView):
    """The deviation rate of one calendar month (the last complete month by default), with its
    weekly trend and department ranking."""

    kind = PeriodKind.MONTH

    @extend_schema(
        parameters=[
            OpenApiParameter(
                PeriodKind.MONTH.value,
                OpenApiTypes.STR,
                description="Month, e.g. 2026-11; the last complete month by default.",
            ),
            *SCOPE_PARAMETERS,
        ],
        responses=MonthlyReportSerializer,
    )
    def get(self, request):
        period = self._period(request)
        report = report_of_record(period=period, **self._scope(request))
        return Response(MonthlyReportSerializer(report).data)
