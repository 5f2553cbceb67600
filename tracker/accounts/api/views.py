from django.db.models import Prefetch
from rest_framework import viewsets

from tracker.accounts.api.serializers import DepartmentSerializer, UserSerializer
from tracker.accounts.models import Department, User
from tracker.accounts.services import (
    department_authorize_write,
    department_delete,
    department_save,
    user_authorize_write,
    user_delete,
    user_save,
)
from tracker.core.api.views import ChecksWriteFirst


class DepartmentViewSet(ChecksWriteFirst, viewsets.ModelViewSet):
    """Departments (the board's swimlanes). Everyone reads; staff create and edit."""

    queryset = Department.objects.select_related("lead").order_by("name")
    serializer_class = DepartmentSerializer
    conflict_actions = {"destroy"}  # a department that still has nodes

    def check_create(self) -> None:
        department_authorize_write(actor=self.request.user)

    def check_write(self, obj: Department) -> None:
        department_authorize_write(actor=self.request.user)

    filterset_fields = ["code"]

    def perform_create(self, serializer):
        serializer.instance = department_save(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = department_save(
            actor=self.request.user, department=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        department_delete(department=instance, actor=self.request.user)


class UserViewSet(ChecksWriteFirst, viewsets.ModelViewSet):
    """People and their department memberships. Everyone reads; staff create and edit."""

    queryset = User.objects.prefetch_related(
        Prefetch("departments", queryset=Department.objects.only("id", "code"))
    ).order_by("username")
    serializer_class = UserSerializer
    # The last active staff account; a person who still owns projects.
    conflict_actions = {"update", "partial_update", "destroy"}

    def check_create(self) -> None:
        user_authorize_write(actor=self.request.user)

    def check_write(self, obj: User) -> None:
        user_authorize_write(actor=self.request.user)

    filterset_fields = ["username", "email", "is_active"]

    def _save(self, serializer, user=None):
        data = dict(serializer.validated_data)
        departments = data.pop("departments", None)
        serializer.instance = user_save(
            actor=self.request.user,
            user=user,
            department_codes=[d.code for d in departments] if departments is not None else None,
            **data,
        )

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer, user=serializer.instance)

    def perform_destroy(self, instance):
        user_delete(user=instance, actor=self.request.user)
