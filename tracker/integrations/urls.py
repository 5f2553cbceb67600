from django.urls import path, re_path

from tracker.integrations.spreadsheets.exporting import ANALYSIS_TABLES, REPORT_TABLES
from tracker.integrations.views import calendar, channels, chatapps, commands, spreadsheets
from tracker.reports.periods import PeriodKind

app_name = "integrations"

urlpatterns = [
    path("channels/", channels.channel_list_view, name="channel_list"),
    path("channels/new/", channels.channel_create_view, name="channel_create"),
    path("channels/<int:channel_id>/edit/", channels.channel_edit_view, name="channel_edit"),
    path("channels/<int:channel_id>/delete/", channels.channel_delete_view, name="channel_delete"),
    path("channels/<int:channel_id>/test/", channels.channel_test_view, name="channel_test"),
    path("slack/commands", commands.slack_commands, name="slack_commands"),
    path("chat/commands", commands.chat_commands, name="chat_commands"),
    path("feishu/<int:app_id>/events", chatapps.feishu_events, name="feishu_events"),
    path("dingtalk/<int:app_id>/robot", chatapps.dingtalk_robot, name="dingtalk_robot"),
    path("wecom/<int:app_id>/callback", chatapps.wecom_callback, name="wecom_callback"),
    path("chat/link/", commands.chat_link_view, name="chat_link"),
    path("chat/accounts/", commands.chat_identities_view, name="chat_identities"),
    path(
        "chat/accounts/<int:identity_id>/unlink/",
        commands.chat_identity_unlink_view,
        name="chat_identity_unlink",
    ),
    path(
        "chat/accounts/sign-in/<int:account_id>/remove/",
        commands.sign_in_account_remove_view,
        name="sign_in_account_remove",
    ),
    path("calendar/", calendar.calendar_feeds_view, name="calendar_feeds"),
    path(
        "calendar/<int:feed_id>/regenerate/",
        calendar.calendar_feed_regenerate_view,
        name="calendar_feed_regenerate",
    ),
    path(
        "calendar/<int:feed_id>/revoke/",
        calendar.calendar_feed_revoke_view,
        name="calendar_feed_revoke",
    ),
    path("calendar/<str:token>.ics", calendar.calendar_feed_view, name="calendar_feed"),
    re_path(
        r"^projects/(?P<project_id>\d+)/export\.(?P<fmt>csv|xlsx)$",
        spreadsheets.project_export_view,
        name="project_export",
    ),
    path(
        "projects/<int:project_id>/import/",
        spreadsheets.project_import_view,
        name="project_import",
    ),
    path("history/import/", spreadsheets.history_import_view, name="history_import"),
    re_path(
        rf"^reports/(?P<kind>{'|'.join(kind.adjective for kind in PeriodKind)})/"
        r"(?P<label>[0-9]{4}-W?[0-9]{2})/"
        rf"(?P<table>{'|'.join(REPORT_TABLES + ANALYSIS_TABLES)})\.(?P<fmt>csv|xlsx)$",
        spreadsheets.report_export_view,
        name="report_export",
    ),
]
