"""Channels over REST. The URL and the secret are write-only: the URL carries the platform's
token, so reads show `url_display` (scheme and host) and `has_secret`."""

from rest_framework import serializers

from tracker.accounts.models import Department, Language
from tracker.core.api.fields import CodeOrIdRelatedField
from tracker.notifications.models import Channel, ChannelEvent, ChannelKind
from tracker.projects.models import Project


class ChannelSerializer(serializers.ModelSerializer):
    department = serializers.SlugRelatedField(
        slug_field="code",
        read_only=True,
        allow_null=True,
        help_text="The department's code; null for a channel not scoped to a department.",
    )
    has_secret = serializers.SerializerMethodField()
    url_display = serializers.CharField(read_only=True)
    warnings = serializers.SerializerMethodField(
        help_text="What was saved unchecked (e.g. a host that does not resolve now); "
        "only in the answer to a create or update."
    )

    class Meta:
        model = Channel
        fields = [
            "id",
            "name",
            "kind",
            "url_display",
            "has_secret",
            "project",
            "department",
            "events",
            "is_active",
            "language",
            "created_at",
            "updated_at",
            "warnings",
        ]
        read_only_fields = fields

    def get_has_secret(self, channel: Channel) -> bool:
        return bool(channel.secret)

    def get_warnings(self, channel: Channel) -> list[str]:
        return getattr(channel, "warnings", [])


class ChannelWriteSerializer(serializers.Serializer):
    """Shapes only; the rules (SSRF guard, secret formats, scope, permission) are the service's."""

    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    url = serializers.CharField(max_length=500, write_only=True)
    secret = serializers.CharField(
        max_length=200, write_only=True, required=False, allow_blank=True, trim_whitespace=True
    )
    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.all(), required=False, allow_null=True
    )
    department = CodeOrIdRelatedField(
        queryset=Department.objects.all(), required=False, allow_null=True
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=ChannelEvent.choices), allow_empty=False
    )
    is_active = serializers.BooleanField(required=False)
    language = serializers.ChoiceField(choices=Language.choices, required=False)


class ChannelTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    answer = serializers.CharField()
    retry_after = serializers.FloatField(allow_null=True)
