"""The admin goes through the services' rules for people: the last active staff account
cannot be demoted there either, and role changes made there (staff, active, departments
through the membership inline, a department's lead) are in the audit log."""

import pytest
from django.urls import reverse

from tests.factories import DepartmentFactory, UserFactory
from tracker.accounts.models import AuditEntry, Membership, User

pytestmark = pytest.mark.django_db


def user_form(user, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "language": user.language,
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "membership_set-TOTAL_FORMS": "0",
        "membership_set-INITIAL_FORMS": "0",
        "membership_set-MIN_NUM_FORMS": "0",
        "membership_set-MAX_NUM_FORMS": "1000",
    }
    for flag in ("is_active", "is_staff", "is_superuser"):
        if changes.get(flag, getattr(user, flag)):
            data[flag] = "on"
    data.update({k: v for k, v in changes.items() if k not in ("is_active", "is_staff")})
    return data


def test_the_last_staff_account_cannot_demote_itself_in_the_admin(client):
    me = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(me)
    url = reverse("admin:accounts_user_change", args=[me.pk])
    answer = client.post(url, user_form(me, is_staff=False))
    assert answer.status_code == 200  # the form again, with the reason
    assert "last active staff account" in answer.content.decode()
    me.refresh_from_db()
    assert me.is_staff


def test_role_changes_in_the_admin_are_audited(client):
    me = UserFactory(username="root", is_staff=True, is_superuser=True)
    lena = UserFactory(username="lena")
    merch = DepartmentFactory(code="merch", name="Merchandising")
    client.force_login(me)
    url = reverse("admin:accounts_user_change", args=[lena.pk])
    data = user_form(
        lena,
        is_staff=True,
        **{
            "membership_set-TOTAL_FORMS": "1",
            "membership_set-0-department": str(merch.pk),
            "membership_set-0-user": str(lena.pk),
        },
    )
    answer = client.post(url, data)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert Membership.objects.filter(user=lena, department=merch).exists()
    entries = {
        (e.subject, e.field, e.old_value, e.new_value, e.actor_id) for e in AuditEntry.objects.all()
    }
    assert ("lena", "is_staff", "False", "True", me.pk) in entries
    assert ("lena", "departments", "", "merch", me.pk) in entries

    dept_url = reverse("admin:accounts_department_change", args=[merch.pk])
    answer = client.post(
        dept_url,
        {
            "name": merch.name,
            "code": merch.code,
            "lead": str(lena.pk),
            "membership_set-TOTAL_FORMS": "0",
            "membership_set-INITIAL_FORMS": "0",
            "membership_set-MIN_NUM_FORMS": "0",
            "membership_set-MAX_NUM_FORMS": "1000",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert AuditEntry.objects.filter(field="lead", new_value="lena", actor=me).exists()
    assert User.objects.get(pk=lena.pk).is_staff
