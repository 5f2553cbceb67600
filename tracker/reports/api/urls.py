from django.urls import path

from tracker.reports.api.views import MonthlyReportView, WeeklyReportView

urlpatterns = [
    path("reports/weekly/", WeeklyReportView.as_view(), name="report-weekly"),
    path("reports/monthly/", MonthlyReportView.as_view(), name="report-monthly"),
]
