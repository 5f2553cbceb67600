"""The REST API v1 router: each app registers its viewsets here."""

from rest_framework.routers import DefaultRouter

from tracker.accounts.api.views import DepartmentViewSet, UserViewSet
from tracker.alerts.api.views import AlertViewSet
from tracker.integrations.api.views import ChannelViewSet
from tracker.milestones.api.views import DeviationReasonViewSet, MilestoneViewSet
from tracker.notifications.api.views import MilestoneCommentViewSet
from tracker.projects.api.views import ProjectViewSet, TemplateViewSet

router = DefaultRouter()
router.register("departments", DepartmentViewSet, basename="department")
router.register("users", UserViewSet, basename="user")
router.register("templates", TemplateViewSet, basename="template")
router.register("projects", ProjectViewSet, basename="project")
router.register("milestones", MilestoneViewSet, basename="milestone")
router.register(
    r"milestones/(?P<milestone_pk>\d+)/comments",
    MilestoneCommentViewSet,
    basename="milestone-comments",
)
router.register("deviation-reasons", DeviationReasonViewSet, basename="deviation-reason")
router.register("channels", ChannelViewSet, basename="channel")
router.register("alerts", AlertViewSet, basename="alert")
