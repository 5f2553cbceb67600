from django.db.models import Prefetch
from rest_framework import viewsets

from tracker.accounts.api.serializers import DepartmentSerializer, UserSerializer
from tracker.accounts.models import Department, User
from tracker.accounts.services import user_save
from tracker.core.api.permissions import StaffWritesOthersRead


class DepartmentViewSet(viewsets.ModelViewSet):
    """Departments (the board's swimlanes). Everyone reads; staff create and edit."""

    queryset = Department.objects.select_related("lead").order_by("name")
    serializer_class = DepartmentSerializer
    permission_classes = [StaffWritesOthersRead]
    filterset_fields = ["code"]


class UserViewSet(viewsets.ModelViewSet):
    """People and their department memberships. Everyone reads; staff create and edit."""

    queryset = User.objects.prefetch_related(
        Prefetch("departments", queryset=Department.objects.only("id", "code"))
    ).order_by("username")
    serializer_class = UserSerializer
    permission_classes = [StaffWritesOthersRead]
    filterset_fields = ["username", "email", "is_active"]

    def _save(self, serializer, user=None):
        data = dict(serializer.validated_data)
        departments = data.pop("departments", None)
        serializer.instance = user_save(
            user=user,
            department_codes=[d.code for d in departments] if departments is not None else None,
            **data,
        )

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer, user=serializer.instance)
