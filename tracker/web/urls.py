from django.urls import path
from django.views.generic import RedirectView

from tracker.web.views import (
    account,
    board,
    episodes,
    home,
    inbox,
    nodes,
    projects,
    reports,
    templates,
    timeline,
)

app_name = "web"

urlpatterns = [
    path("", home.home, name="home"),
    path("language/", account.set_language, name="language"),
    path("settings/", account.settings_view, name="settings"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/read/", inbox.inbox_read_all, name="inbox_read_all"),
    path("settings/tokens/", account.token_create, name="token_create"),
    path("unsubscribe/<str:token>/", account.unsubscribe, name="unsubscribe"),
    path("settings/tokens/<int:token_id>/revoke/", account.token_revoke_view, name="token_revoke"),
    path("projects/", projects.project_list, name="project_list"),
    path("projects/new/", projects.project_create_view, name="project_create"),
    path("projects/<int:project_id>/", board.board, name="board"),
    path(
        "projects/<int:project_id>/baseline/",
        projects.project_baseline_view,
        name="project_baseline",
    ),
    path("projects/<int:project_id>/timeline/", timeline.timeline, name="timeline"),
    path("projects/<int:project_id>/list/", board.node_list, name="node_list"),
    path("projects/<int:project_id>/list/bulk/", board.node_bulk_edit, name="node_bulk_edit"),
    path("projects/<int:project_id>/stamp/", board.board_stamp_view, name="board_stamp"),
    path("projects/<int:project_id>/audit/", timeline.audit, name="project_audit"),
    path(
        "projects/<int:project_id>/settings/",
        projects.project_settings_view,
        name="project_settings",
    ),
    path(
        "projects/<int:project_id>/lanes/<int:department_id>/collapse/",
        board.lane_collapse,
        name="lane_collapse",
    ),
    path(
        "projects/<int:project_id>/lanes/<int:department_id>/add/",
        board.node_add,
        name="node_add",
    ),
    path("templates/", templates.template_list, name="template_list"),
    path("templates/new/", templates.template_edit, name="template_create"),
    path("templates/<int:template_id>/", templates.template_edit, name="template_edit"),
    path(
        "templates/<int:template_id>/duplicate/",
        templates.template_duplicate_view,
        name="template_duplicate",
    ),
    path("nodes/<int:node_id>/", nodes.node_detail_view, name="node_detail"),
    path("nodes/<int:node_id>/replan/", timeline.node_replan, name="node_replan"),
    path("nodes/<int:node_id>/acknowledge/", episodes.node_acknowledge, name="node_acknowledge"),
    path("nodes/<int:node_id>/snooze/", episodes.node_snooze, name="node_snooze"),
    path("snooze/<str:token>/", episodes.alert_snooze_link, name="alert_snooze_link"),
    path(
        "nodes/<int:node_id>/dependencies/",
        nodes.node_dependencies_view,
        name="node_dependencies",
    ),
    path("nodes/<int:node_id>/comments/", nodes.node_comment_post, name="node_comment_post"),
    path(
        "comments/<int:comment_id>/delete/",
        nodes.node_comment_delete,
        name="node_comment_delete",
    ),
    path("nodes/<int:node_id>/card/", board.card, name="card"),
    path("nodes/<int:node_id>/edit/", board.card_edit, name="card_edit"),
    path("nodes/<int:node_id>/move/", board.card_move, name="card_move"),
    path("reports/", RedirectView.as_view(pattern_name="web:report_weekly"), name="reports"),
    path("reports/weekly/", reports.weekly, name="report_weekly"),
    path("reports/monthly/", reports.monthly, name="report_monthly"),
]
