from django.urls import path

from tracker.workcal.api.views import CalendarOverrideView, CalendarView, WorkingDayView

urlpatterns = [
    path("calendar/", CalendarView.as_view(), name="calendar"),
    path("calendar/working-day/", WorkingDayView.as_view(), name="calendar-working-day"),
    path("calendar/<str:day>/", CalendarOverrideView.as_view(), name="calendar-override"),
]
