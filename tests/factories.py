"""factory_boy factories for the domain; tests build exactly the data their case needs."""

from datetime import UTC, datetime, timedelta

import factory
from django.utils import timezone

from tracker.accounts.models import ApiToken, Department, Membership, TokenScope, User
from tracker.milestones.models import Milestone, MilestoneStatus
from tracker.notifications.models import DIGESTIBLE_KINDS, Delivery, PreferenceChannel
from tracker.notifications.preferences import preferences_save
from tracker.projects.models import Project, ProjectKind, ProjectStatus


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw-Milepost-1")
    language = "en"

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save(update_fields=["password"])


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"dept{n}")
    name = factory.LazyAttribute(lambda d: d.code.title())


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    department = factory.SubFactory(DepartmentFactory)


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    kind = ProjectKind.CAMPAIGN
    d_day = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    owner = factory.SubFactory(UserFactory)
    # A war room of ±20 years: every hour is working time, so tests of the scan's mechanics
    # count plain hours. Tests of working hours make projects with `war_room=False`.
    war_room = True
    war_room_days_before = 7300
    war_room_days_after = 7300


class BaselinedProjectFactory(ProjectFactory):
    """A project whose plan is of record (baselined long ago): the deviation reports count its
    nodes. Nodes made by the factory carry no `baseline_due_at`, so their planned due is their
    due date."""

    status = ProjectStatus.ACTIVE
    baselined_at = factory.LazyFunction(lambda: datetime(2000, 1, 1, tzinfo=UTC))
    baseline_number = 1


class MilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Milestone

    project = factory.SubFactory(ProjectFactory)
    title = factory.Sequence(lambda n: f"Node {n}")
    department = factory.SubFactory(DepartmentFactory)
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    position = factory.Sequence(lambda n: n)  # unique per lane
    status = MilestoneStatus.TODO
    completed_at = factory.LazyAttribute(
        lambda m: m.due_at if m.status == MilestoneStatus.DONE else None
    )


def make_token(user: User, scope: str = TokenScope.WRITE, **fields) -> str:
    """Create an API token for `user` and return its clear key."""
    key = ApiToken.generate_key()
    ApiToken.objects.create(
        user=user,
        prefix=key[: ApiToken.PREFIX_LENGTH],
        key_hash=ApiToken.hash_key(key),
        scope=scope,
        **fields,
    )
    return key


def prefer_digest(user: User) -> None:
    """`user` wants every alert email in the daily digest (what the old email mode did)."""
    preferences_save(
        user=user,
        choices={(kind, PreferenceChannel.EMAIL): Delivery.DIGEST for kind in DIGESTIBLE_KINDS},
    )
