"""Staff cannot lock everyone out: the last active staff account is never deactivated,
demoted or deleted (409), through the API or the services, even by two requests at once."""

import threading

import pytest
from django.db import connection, connections, transaction

from tests.factories import UserFactory
from tracker.accounts.models import User
from tracker.accounts.services import user_delete, user_save
from tracker.core.errors import StateConflictError

LAST = "This is the last active staff account"


@pytest.fixture
def staff_client(api_client, db):
    staff = UserFactory(username="root", is_staff=True)
    api_client.force_login(staff)
    return api_client, staff


def put(user: User, **changes) -> dict:
    return {"username": user.username, "email": user.email, **changes}


@pytest.mark.parametrize(
    "request_",
    [
        lambda c, u: c.patch(f"/api/v1/users/{u.pk}/", {"is_active": False}, format="json"),
        lambda c, u: c.put(f"/api/v1/users/{u.pk}/", put(u, is_active=False), format="json"),
        lambda c, u: c.delete(f"/api/v1/users/{u.pk}/"),
    ],
    ids=["patch", "put", "delete"],
)
def test_the_last_active_staff_account_stays(staff_client, request_):
    client, staff = staff_client
    UserFactory(username="former", is_staff=True, is_active=False)  # does not count
    response = request_(client, staff)
    assert response.status_code == 409
    assert LAST in response.json()["detail"]
    staff.refresh_from_db()
    assert staff.is_active and staff.is_staff


def test_with_another_active_staff_account_it_may_go(staff_client):
    client, staff = staff_client
    other = UserFactory(username="second", is_staff=True)
    response = client.patch(f"/api/v1/users/{other.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200
    assert client.delete(f"/api/v1/users/{staff.pk}/").status_code == 409  # now the last
    assert client.delete(f"/api/v1/users/{UserFactory().pk}/").status_code == 204


@pytest.mark.django_db
def test_demoting_the_last_staff_account_is_refused():
    staff = UserFactory(is_staff=True)
    with pytest.raises(StateConflictError):
        user_save(actor=None, user=staff, is_staff=False)
    staff.refresh_from_db()
    assert staff.is_staff
    user_save(actor=None, user=staff, first_name="Still staff")  # other edits are fine


def waiting_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row) and row[0] == "Lock"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_removals_leave_one_staff_account():
    first, second = UserFactory(is_staff=True), UserFactory(is_staff=True)
    holding, release = threading.Event(), threading.Event()
    second_pid, outcome = [], {}

    def remove_first():
        with transaction.atomic():
            user_save(actor=None, user=User.objects.get(pk=first.pk), is_active=False)
            holding.set()
            release.wait(timeout=30)
        connections.close_all()

    def remove_second():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            second_pid.append(cursor.fetchone()[0])
        holding.wait(timeout=30)
        try:
            user_delete(actor=None, user=User.objects.get(pk=second.pk))
            outcome["second"] = "deleted"
        except StateConflictError:
            outcome["second"] = "refused"
        connections.close_all()

    threads = [threading.Thread(target=remove_first), threading.Thread(target=remove_second)]
    for thread in threads:
        thread.start()
    holding.wait(timeout=30)
    # The second removal waits for the first's lock on the staff rows …
    for _ in range(3000):
        if second_pid and waiting_on_a_lock(second_pid[0]):
            break
        threading.Event().wait(0.01)
    else:
        pytest.fail("the second removal never waited for the first")
    release.set()  # … and, once the first commits, finds itself the last.
    for thread in threads:
        thread.join(timeout=30)
    assert outcome == {"second": "refused"}
    assert list(User.objects.filter(is_staff=True, is_active=True)) == [second]
