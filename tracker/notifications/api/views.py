"""A node's comments over REST: `GET/POST /api/v1/milestones/{id}/comments/`. Reading needs
what reading the node needs; posting, a node of a project not archived. Answers in the order
of every write: 401 → 403 (a read-scope token) → 404 (the node) → 403 (archived) → 400."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from tracker.milestones.models import Milestone
from tracker.notifications.api.serializers import CommentSerializer, CommentWriteSerializer
from tracker.notifications.comments import comment_authorize, comment_post

NODE = OpenApiParameter("milestone_pk", int, OpenApiParameter.PATH, description="The node's id.")


@extend_schema(parameters=[NODE])
class MilestoneCommentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The node's thread, oldest first (deleted comments left out)."""

    serializer_class = CommentSerializer

    def _node(self) -> Milestone:
        try:
            return Milestone.objects.visible_to(self.request.user, include_archived=True).get(
                pk=self.kwargs["milestone_pk"]
            )
        except (Milestone.DoesNotExist, ValueError) as exc:
            raise Http404 from exc

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Milestone.objects.none()
        return self._node().comments.shown().select_related("author").order_by("created_at", "id")

    @extend_schema(request=CommentWriteSerializer, responses={201: CommentSerializer})
    def create(self, request, *args, **kwargs):
        """Post a comment; the people it names with @username and the node's assignee hear of
        it by email and in the app, as their preferences say."""
        node = self._node()
        comment_authorize(actor=request.user, milestone_id=node.pk)
        serializer = CommentWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = comment_post(
            actor=request.user, milestone_id=node.pk, body=serializer.validated_data["body"]
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)
