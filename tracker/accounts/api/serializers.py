from rest_framework import serializers

from tracker.accounts.models import Department, Language, User
from tracker.core.api.fields import SlugRelatedField


class DepartmentSerializer(serializers.ModelSerializer):
    lead = SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Department
        fields = ["id", "name", "code", "lead"]


class UserSerializer(serializers.ModelSerializer):
    language = serializers.ChoiceField(choices=Language.choices, required=False)
    departments = SlugRelatedField(
        slug_field="code", many=True, queryset=Department.objects.all(), required=False
    )
    password = serializers.CharField(
        write_only=True, required=False, style={"input_type": "password"}
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "language",
            "departments",
            "is_staff",
            "is_active",
            "password",
        ]
        read_only_fields = ["is_staff"]
