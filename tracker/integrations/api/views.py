from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from tracker.integrations.api.serializers import (
    ChannelSerializer,
    ChannelTestSerializer,
    ChannelWriteSerializer,
)
from tracker.integrations.selectors import channel_list
from tracker.integrations.services import (
    channel_authorize_any,
    channel_create,
    channel_delete,
    channel_send_test,
    channel_update,
)
from tracker.notifications.models import Channel


@extend_schema_view(
    create=extend_schema(request=ChannelWriteSerializer),
    update=extend_schema(request=ChannelWriteSerializer),
    partial_update=extend_schema(request=ChannelWriteSerializer),
)
class ChannelViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Chat channels: staff see and manage all, a project's owner those of the project.
    `url` and `secret` are write-only; a URL reaching a private address is refused (400)."""

    serializer_class = ChannelSerializer
    queryset = Channel.objects.none()

    def get_queryset(self):
        return channel_list(user=self.request.user)

    def create(self, request: Request) -> Response:
        # 403 before the body is read for one who may manage no channel at all; the project
        # the body names is checked by the service.
        channel_authorize_any(actor=request.user)
        serializer = ChannelWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        channel = channel_create(actor=request.user, **serializer.validated_data)
        return Response(ChannelSerializer(channel).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk=None, partial: bool = False) -> Response:
        channel = self.get_object()
        serializer = ChannelWriteSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        channel = channel_update(
            channel_id=channel.pk, actor=request.user, data=serializer.validated_data
        )
        return Response(ChannelSerializer(channel).data)

    def partial_update(self, request: Request, pk=None) -> Response:
        return self.update(request, pk=pk, partial=True)

    def destroy(self, request: Request, pk=None) -> Response:
        channel_delete(channel_id=self.get_object().pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=ChannelTestSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk=None) -> Response:
        """Send a test message now; `answer` is the platform's reply (or why it failed)."""
        result = channel_send_test(channel_id=self.get_object().pk, actor=request.user)
        return Response(
            ChannelTestSerializer(
                {"ok": result.ok, "answer": result.answer, "retry_after": result.retry_after}
            ).data
        )
