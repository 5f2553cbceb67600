from rest_framework import serializers

from tracker.milestones.models import Comment


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="The author's username; null when the account was deleted.",
    )
    author_name = serializers.SerializerMethodField(
        help_text="The author's display name (full name, else username); null when deleted."
    )

    class Meta:
        model = Comment
        fields = ["id", "milestone", "author", "author_name", "body", "created_at"]
        read_only_fields = fields

    def get_author_name(self, comment: Comment) -> str | None:
        return str(comment.author) if comment.author else None


class CommentWriteSerializer(serializers.Serializer):
    body = serializers.CharField(
        max_length=Comment._meta.get_field("body").max_length,
        help_text="Markdown. @username tells that person (a mention); the node's assignee "
        "hears of every comment.",
    )
