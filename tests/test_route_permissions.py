"""Every route × every role, from one table: who gets through, who is refused, who must sign in.

The table's keys are checked against the URL resolver (and, for the API's viewsets, against the
methods each route serves), so a new route without a row fails here. Django's admin is left
out: it has its own staff gate. Routes that take no session and no token (signed chat
commands, the readiness probe, the metrics scraper) are held to one answer for every role.

Roles: staff; the project's owner; the lead of the node's department; a member of it who is
the node's assignee; a reader (signed in, no role in the project); the reader's read-scope API
token; anonymous.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import (
    DepartmentFactory,
    MembershipFactory,
    MilestoneFactory,
    ProjectFactory,
    UserFactory,
    make_token,
)
from tracker.accounts.models import ApiToken, TokenScope
from tracker.alerts.models import Alert
from tracker.integrations.models import CalendarFeed, ChatApp, ChatIdentity
from tracker.integrations.services import calendar_feed_create, chat_link_token
from tracker.notifications.models import Channel
from tracker.notifications.preferences import unsubscribe_token
from tracker.projects.models import ProjectTemplate, TemplateNode
from tracker.projects.services import project_baseline
from tracker.workcal.models import CalendarOverride

pytestmark = pytest.mark.django_db

ROLES = ("staff", "owner", "lead", "member", "reader", "token", "anonymous")
SESSION = frozenset({"staff", "owner", "lead", "member", "reader"})
READERS = SESSION | {"token"}
EVERYONE = frozenset(ROLES)
MANAGERS = frozenset({"staff", "owner"})
NODE_CREATORS = MANAGERS | {"lead"}
NODE_EDITORS = NODE_CREATORS | {"member"}
STAFF = frozenset({"staff"})
NOBODY: frozenset[str] = frozenset()
SOON = (timezone.now() + timedelta(days=20)).replace(microsecond=0)


class World:
    """One project with one node, and a person in each role."""

    def __init__(self) -> None:
        self.users = {
            "staff": UserFactory(username="staff", is_staff=True),
            "owner": UserFactory(username="owner"),
            "lead": UserFactory(username="lead"),
            "member": UserFactory(username="member"),
            "reader": UserFactory(username="reader"),
        }
        self.users["token"] = self.users["reader"]
        self.key = make_token(self.users["reader"], scope=TokenScope.READ)
        self.department = DepartmentFactory(code="merch", lead=self.users["lead"])
        self.spare_department = DepartmentFactory(code="spare")
        MembershipFactory(user=self.users["member"], department=self.department)
        self.project = ProjectFactory(owner=self.users["owner"], name="Double 11")
        self.node = MilestoneFactory(
            project=self.project, department=self.department, assignee=self.users["member"]
        )
        self.spare_user = UserFactory(username="spare")
        self.template = ProjectTemplate.objects.create(code="t", name="T", kind="campaign")
        TemplateNode.objects.create(
            template=self.template,
            key="a",
            title="A",
            department_code="merch",
            offset_days=-1,
            time_of_day="18:00",
        )
        self.channel = Channel.objects.create(
            name="War room",
            kind="slack",
            url="https://127.0.0.1:9/hook",
            project=self.project,
            events=["overdue"],
        )
        self.alert = Alert.objects.create(
            milestone=self.node,
            project=self.project,
            department=self.department,
            kind="overdue",
            due_at=self.node.due_at,
            scan_id=uuid.uuid4(),
        )
        self.owner_feed, self.owner_feed_token = calendar_feed_create(
            user=self.users["owner"], project=self.project
        )
        CalendarOverride.objects.create(date=date(2026, 12, 25), kind="holiday", name="Closed")
        self.chat_apps = {
            platform: ChatApp.objects.create(
                platform=platform,
                name=platform,
                app_id="cli_x",
                app_secret="secret",
                token="token",
                aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            ).pk
            for platform in ("feishu", "dingtalk", "wecom")
        }

    def user(self, role: str):
        """Whose own rows a route acts on (anonymous and the token: the reader's)."""
        return self.users.get(role, self.users["reader"])

    def own_token(self, role: str) -> int:
        user = self.user(role)
        if not ApiToken.objects.filter(user=user).exists():
            make_token(user)
        return ApiToken.objects.filter(user=user).first().pk

    def late_node(self) -> int:
        """The node, late, with the open lateness episode a scan would have started."""
        from tracker.milestones.models import LatenessEpisode

        started = timezone.now() - timedelta(hours=2)
        self.node.due_at = started
        self.node.save(update_fields=["due_at"])
        LatenessEpisode.objects.get_or_create(
            milestone=self.node,
            ended_at=None,
            defaults={
                "project": self.node.project,
                "started_at": started,
                "started_due_at": started,
                "scan_id": uuid.uuid4(),
            },
        )
        return self.node.pk

    def own_comment(self, role: str) -> int:
        from tracker.notifications.comments import comment_post

        return comment_post(actor=self.user(role), milestone_id=self.node.pk, body="Mine").pk

    def own_feed(self, role: str) -> int:
        feed = CalendarFeed.objects.filter(user=self.user(role), project=None).first()
        if feed is None:
            feed, _token = calendar_feed_create(user=self.user(role))
        return feed.pk

    def own_sign_in(self, role: str) -> int:
        account, _ = SocialAccount.objects.get_or_create(
            user=self.user(role), provider="wecom", uid=f"wecom-{role}"
        )
        return account.pk

    def unsubscribe_token(self, role: str) -> str:
        return unsubscribe_token(user=self.user(role), kinds=["overdue"])

    def own_identity(self, role: str) -> int:
        identity, _ = ChatIdentity.objects.get_or_create(
            user=self.user(role), platform="slack", external_id=f"T:{role}"
        )
        return identity.pk


@dataclass(frozen=True)
class Case:
    method: str
    path: Callable[[World, str], str]
    allowed: frozenset[str]
    data: Callable[[World], Any] | None = None
    json: bool = True
    gate: str = ""  # a route no role opens: its answer (GATES) is the same for everyone
    if_match: bool = False  # a conditional write: send the node's ETag, as a client must


def p(template: str) -> Callable[[World, str], str]:
    """A path from a template naming the world's objects."""

    def build(w: World, role: str) -> str:
        return template.format(
            project=w.project.pk,
            node=w.node.pk,
            department=w.department.pk,
            spare_department=w.spare_department.pk,
            spare_user=w.spare_user.pk,
            template=w.template.pk,
            channel=w.channel.pk,
            alert=w.alert.pk,
            feishu_app=w.chat_apps["feishu"],
            dingtalk_app=w.chat_apps["dingtalk"],
            wecom_app=w.chat_apps["wecom"],
        )

    return build


def rebaseline_body(w: World) -> dict:
    """A re-baseline needs a baseline to replace: take the first one (as Milepost)."""
    project_baseline(project=w.project, actor=None)
    return {"reason_code": "platform_change"}


def web(method: str, path: Callable[[World, str], str], allowed, data=None) -> Case:
    return Case(method, path, frozenset(allowed), data, json=False)


def api(
    method: str, path: Callable[[World, str], str], allowed, data=None, *, if_match=False
) -> Case:
    return Case(method, path, frozenset(allowed), data, if_match=if_match)


def node_edit(w: World) -> dict:
    local = timezone.localtime(w.node.due_at).strftime("%Y-%m-%dT%H:%M")
    loaded = {
        "title": w.node.title,
        "assignee": str(w.node.assignee_id),
        "due_at": local,
        "status": w.node.status,
        "completed_at": "",
    }
    return {
        **loaded,
        **{f"initial-{k}": v for k, v in loaded.items()},
        "title": "Renamed",
        "version": str(w.node.version),
        "change_reason": "",
    }


def csv_upload(w: World) -> dict:
    content = f"title,department,due\nImported,merch,{SOON.date().isoformat()}\n".encode()
    upload = io.BytesIO(content)
    upload.name = "nodes.csv"
    return {"file": upload}


def history_upload(w: World) -> dict:
    upload = io.BytesIO(b"title,department,due,completed at\nPast,merch,2025-11-01,2025-11-01\n")
    upload.name = "history.csv"
    return {"file": upload, "name": "Past", "kind": "campaign", "d_day": "2025-11-11 00:00"}


def chat_link(w: World, role: str) -> str:
    return "/integrations/chat/link/?t=" + chat_link_token(platform="slack", external_id="T:U1")


PROJECT_BODY = {"name": "New", "kind": "launch", "d_day": SOON.isoformat()}
CHANNEL_BODY = {
    "name": "New room",
    "kind": "slack",
    "url": "https://127.0.0.1:9/new",
    "events": ["overdue"],
}
TEMPLATE_BODY = {
    "code": "new",
    "name": "New",
    "kind": "launch",
    "nodes": [
        {"key": "a", "title": "A", "department": "merch", "offset_days": -1, "time": "18:00"}
    ],
}

# Routes that take no session and no API token: a chat platform's signature, a probe's view of
# the infrastructure, an address or bearer secret for the metrics scraper.
SSO_APPS = {
    "feishu": {"client_id": "cli_1", "secret": "s"},
    "dingtalk": {"client_id": "ding1", "secret": "s"},
    "wecom": {"client_id": "ww1", "secret": "s", "settings": {"agent_id": "1000002"}},
}

GATES = {
    "signature": {401},  # unsigned: refused whoever is signed in, and nothing runs
    "probe": {200, 503},  # up or not, the same for everyone
    "network": {403},  # outside METRICS_ALLOWED_NETWORKS and without METRICS_TOKEN
    "failed sign-in": {401},  # a provider's callback without its code and state
    "unconfigured": {404},  # a sign-in provider without credentials
    "signed link": {400},  # a link whose signature does not check out, whoever follows it
}

ROUTES: dict[str, list[Case]] = {
    # The REST API ---------------------------------------------------------------------------
    "api:api-root": [api("get", p("/api/v1/"), READERS)],
    "api:schema": [api("get", p("/api/v1/schema/"), EVERYONE)],
    "api:docs": [api("get", p("/api/v1/docs/"), EVERYONE)],
    "api:department-list": [
        api("get", p("/api/v1/departments/"), READERS),
        api("post", p("/api/v1/departments/"), STAFF, lambda w: {"name": "Ops", "code": "ops"}),
    ],
    "api:department-detail": [
        api("get", p("/api/v1/departments/{spare_department}/"), READERS),
        api(
            "put",
            p("/api/v1/departments/{spare_department}/"),
            STAFF,
            lambda w: {"name": "Spare", "code": "spare"},
        ),
        api("patch", p("/api/v1/departments/{spare_department}/"), STAFF, lambda w: {"name": "S"}),
        api("delete", p("/api/v1/departments/{spare_department}/"), STAFF),
    ],
    "api:user-list": [
        api("get", p("/api/v1/users/"), READERS),
        api("post", p("/api/v1/users/"), STAFF, lambda w: {"username": "new", "email": "n@x.io"}),
    ],
    "api:user-detail": [
        api("get", p("/api/v1/users/{spare_user}/"), READERS),
        api("put", p("/api/v1/users/{spare_user}/"), STAFF, lambda w: {"username": "spare2"}),
        api("patch", p("/api/v1/users/{spare_user}/"), STAFF, lambda w: {"first_name": "S"}),
        api("delete", p("/api/v1/users/{spare_user}/"), STAFF),
    ],
    "api:template-list": [
        api("get", p("/api/v1/templates/"), READERS),
        api("post", p("/api/v1/templates/"), STAFF, lambda w: TEMPLATE_BODY),
    ],
    "api:template-detail": [
        api("get", p("/api/v1/templates/{template}/"), READERS),
        api("put", p("/api/v1/templates/{template}/"), STAFF, lambda w: TEMPLATE_BODY),
        api("patch", p("/api/v1/templates/{template}/"), STAFF, lambda w: {"name": "T2"}),
        api("delete", p("/api/v1/templates/{template}/"), STAFF),
    ],
    "api:project-list": [
        api("get", p("/api/v1/projects/"), READERS),
        api("post", p("/api/v1/projects/"), SESSION, lambda w: PROJECT_BODY),
    ],
    "api:project-detail": [
        api("get", p("/api/v1/projects/{project}/"), READERS),
        api(
            "put",
            p("/api/v1/projects/{project}/"),
            MANAGERS,
            lambda w: {**PROJECT_BODY, "kind": w.project.kind, "d_day": w.project.d_day},
        ),
        api("patch", p("/api/v1/projects/{project}/"), MANAGERS, lambda w: {"name": "Renamed"}),
        api("delete", p("/api/v1/projects/{project}/"), MANAGERS),
    ],
    "api:project-baseline": [api("post", p("/api/v1/projects/{project}/baseline/"), MANAGERS)],
    "api:project-rebaseline": [
        api("post", p("/api/v1/projects/{project}/rebaseline/"), MANAGERS, rebaseline_body)
    ],
    "api:project-baselines": [api("get", p("/api/v1/projects/{project}/baselines/"), READERS)],
    "api:project-history": [api("get", p("/api/v1/projects/{project}/history/"), READERS)],
    "api:deviation-reason-list": [api("get", p("/api/v1/deviation-reasons/"), READERS)],
    "api:deviation-reason-detail": [api("get", p("/api/v1/deviation-reasons/supplier/"), READERS)],
    "api:project-board": [api("get", p("/api/v1/projects/{project}/board/"), READERS)],
    "api:project-forecast": [api("get", p("/api/v1/projects/{project}/forecast/"), READERS)],
    "api:milestone-list": [
        api("get", p("/api/v1/milestones/"), READERS),
        api(
            "post",
            p("/api/v1/milestones/"),
            NODE_CREATORS,
            lambda w: {
                "project": w.project.pk,
                "title": "New",
                "department": "merch",
                "due_at": SOON.isoformat(),
            },
        ),
    ],
    "api:milestone-detail": [
        api("get", p("/api/v1/milestones/{node}/"), READERS),
        api(
            "put",
            p("/api/v1/milestones/{node}/"),
            NODE_EDITORS,
            lambda w: {
                "project": w.project.pk,
                "title": "Renamed",
                "department": "merch",
                "due_at": SOON.isoformat(),
            },
            if_match=True,
        ),
        api(
            "patch",
            p("/api/v1/milestones/{node}/"),
            NODE_EDITORS,
            lambda w: {"title": "R"},
            if_match=True,
        ),
        api("delete", p("/api/v1/milestones/{node}/"), NODE_CREATORS, if_match=True),
    ],
    "api:milestone-history": [api("get", p("/api/v1/milestones/{node}/history/"), READERS)],
    "api:milestone-episodes": [api("get", p("/api/v1/milestones/{node}/episodes/"), READERS)],
    # The people the first two rungs name: the assignee and the lead.
    "api:milestone-acknowledge": [
        api(
            "post",
            lambda w, role: f"/api/v1/milestones/{w.late_node()}/acknowledge/",
            {"lead", "member"},
            lambda w: {"promised_at": SOON.isoformat(), "reason_code": "other", "note": "Supplier"},
        )
    ],
    "api:milestone-comments-list": [
        api("get", p("/api/v1/milestones/{node}/comments/"), READERS),
        api("post", p("/api/v1/milestones/{node}/comments/"), SESSION, lambda w: {"body": "Hi"}),
    ],
    # Everyone lists channels, and sees the ones they manage (none for most: an empty list).
    "api:channel-list": [
        api("get", p("/api/v1/channels/"), READERS),
        api(
            "post",
            p("/api/v1/channels/"),
            MANAGERS,
            lambda w: {**CHANNEL_BODY, "project": w.project.pk},
        ),
    ],
    "api:channel-detail": [
        api("get", p("/api/v1/channels/{channel}/"), MANAGERS),
        api(
            "put",
            p("/api/v1/channels/{channel}/"),
            MANAGERS,
            lambda w: {**CHANNEL_BODY, "project": w.project.pk},
        ),
        api("patch", p("/api/v1/channels/{channel}/"), MANAGERS, lambda w: {"name": "Renamed"}),
        api("delete", p("/api/v1/channels/{channel}/"), MANAGERS),
    ],
    "api:channel-test": [api("post", p("/api/v1/channels/{channel}/test/"), MANAGERS)],
    "api:alert-list": [api("get", p("/api/v1/alerts/"), READERS)],
    "api:alert-detail": [api("get", p("/api/v1/alerts/{alert}/"), READERS)],
    "api:report-weekly": [api("get", p("/api/v1/reports/weekly/?project={project}"), READERS)],
    "api:report-monthly": [api("get", p("/api/v1/reports/monthly/?project={project}"), READERS)],
    # The web UI -----------------------------------------------------------------------------
    "web:home": [web("get", p("/"), SESSION)],
    "web:language": [web("post", p("/language/"), EVERYONE, lambda w: {"language": "en"})],
    "web:settings": [
        web("get", p("/settings/"), SESSION),
        web(
            "post",
            p("/settings/"),
            SESSION,
            lambda w: {"language": "en", "notify_overdue_email": "digest"},
        ),
    ],
    # The signed token in the URL is the credential: one-click unsubscribing takes no session.
    "web:unsubscribe": [
        web("get", lambda w, role: f"/unsubscribe/{w.unsubscribe_token(role)}/", EVERYONE),
        web("post", lambda w, role: f"/unsubscribe/{w.unsubscribe_token(role)}/", EVERYONE),
    ],
    "web:inbox": [web("get", p("/inbox/"), SESSION)],
    "web:inbox_read_all": [web("post", p("/inbox/read/"), SESSION)],
    "web:token_create": [
        web("post", p("/settings/tokens/"), SESSION, lambda w: {"name": "BI", "scope": "read"})
    ],
    "web:token_revoke": [
        web("post", lambda w, role: f"/settings/tokens/{w.own_token(role)}/revoke/", SESSION)
    ],
    "web:project_list": [web("get", p("/projects/?status=all"), SESSION)],
    "web:project_create": [
        web("get", p("/projects/new/"), SESSION),
        web(
            "post",
            p("/projects/new/"),
            SESSION,
            lambda w: {
                "name": "New",
                "kind": "launch",
                "d_day": timezone.localtime(SOON).strftime("%Y-%m-%dT%H:%M"),
                "threshold_percent": "10",
                "create": "1",
            },
        ),
    ],
    "web:board": [web("get", p("/projects/{project}/"), SESSION)],
    "web:project_baseline": [
        web("get", p("/projects/{project}/baseline/"), MANAGERS),
        web("post", p("/projects/{project}/baseline/"), MANAGERS),
    ],
    "web:timeline": [web("get", p("/projects/{project}/timeline/"), SESSION)],
    "web:template_list": [web("get", p("/templates/"), STAFF)],
    "web:template_create": [web("get", p("/templates/new/"), STAFF)],
    "web:template_edit": [web("get", p("/templates/{template}/"), STAFF)],
    "web:template_duplicate": [web("post", p("/templates/{template}/duplicate/"), STAFF)],
    "web:node_list": [web("get", p("/projects/{project}/list/"), SESSION)],
    "web:node_bulk_edit": [
        web(
            "post",
            p("/projects/{project}/list/bulk/"),
            NODE_EDITORS,
            lambda w: {"ids": [str(w.node.pk)], "action": "status", "status": "in_progress"},
        )
    ],
    "web:board_stamp": [web("get", p("/projects/{project}/stamp/"), SESSION)],
    "web:lane_collapse": [
        web(
            "post",
            p("/projects/{project}/lanes/{department}/collapse/"),
            SESSION,
            lambda w: {"collapsed": "1"},
        )
    ],
    "web:project_audit": [web("get", p("/projects/{project}/audit/"), SESSION)],
    "web:node_add": [
        web("get", p("/projects/{project}/lanes/{department}/add/"), NODE_CREATORS),
        web(
            "post",
            p("/projects/{project}/lanes/{department}/add/"),
            NODE_CREATORS,
            lambda w: {
                "title": "New",
                "due_at": timezone.localtime(SOON).strftime("%Y-%m-%dT%H:%M"),
                "description": "",
                "assignee": "",
            },
        ),
    ],
    "web:node_detail": [web("get", p("/nodes/{node}/"), SESSION)],
    "web:node_replan": [
        web(
            "post",
            p("/nodes/{node}/replan/"),
            NODE_EDITORS,
            lambda w: {
                "due_at": timezone.localtime(w.node.due_at).strftime("%Y-%m-%dT%H:%M"),
                "version": str(w.node.version),
            },
        )
    ],
    "web:node_dependencies": [
        web(
            "post",
            p("/nodes/{node}/dependencies/"),
            NODE_EDITORS,
            lambda w: {"version": str(w.node.version)},
        )
    ],
    "web:node_comment_post": [
        web("post", p("/nodes/{node}/comments/"), SESSION, lambda w: {"body": "Hi"})
    ],
    # Everyone deletes their own comment (staff anyone's).
    "web:node_comment_delete": [
        web("post", lambda w, role: f"/comments/{w.own_comment(role)}/delete/", SESSION)
    ],
    # Refusals come back as a message on the page the form was on, for every signed-in role.
    "web:node_acknowledge": [
        web(
            "post",
            lambda w, role: f"/nodes/{w.late_node()}/acknowledge/",
            SESSION,
            lambda w: {"promised_at": timezone.localtime(SOON).strftime("%Y-%m-%dT%H:%M")},
        )
    ],
    "web:node_snooze": [
        web("post", p("/nodes/{node}/snooze/"), SESSION, lambda w: {"until": "1h"})
    ],
    # The signed link is the credential; a bad one is the same 400 for everyone.
    "web:alert_snooze_link": [
        Case("get", p("/snooze/not-a-token/"), NOBODY, json=False, gate="signed link")
    ],
    "web:card": [web("get", p("/nodes/{node}/card/"), SESSION)],
    "web:card_edit": [
        web("get", p("/nodes/{node}/edit/"), NODE_EDITORS),
        web("post", p("/nodes/{node}/edit/"), NODE_EDITORS, node_edit),
    ],
    "web:card_move": [
        web(
            "post",
            p("/nodes/{node}/move/"),
            NODE_EDITORS,
            lambda w: {"status": "in_progress", "version": str(w.node.version)},
        )
    ],
    "web:reports": [web("get", p("/reports/"), EVERYONE)],  # a redirect to the weekly report
    "web:report_weekly": [web("get", p("/reports/weekly/?project={project}"), SESSION)],
    "web:report_monthly": [web("get", p("/reports/monthly/?project={project}"), SESSION)],
    # Integrations ---------------------------------------------------------------------------
    "integrations:channel_list": [web("get", p("/integrations/channels/"), MANAGERS)],
    "integrations:channel_create": [
        web("get", p("/integrations/channels/new/"), MANAGERS),
        web(
            "post",
            p("/integrations/channels/new/"),
            MANAGERS,
            lambda w: {**CHANNEL_BODY, "project": w.project.pk, "language": "en"},
        ),
    ],
    "integrations:channel_edit": [
        web("get", p("/integrations/channels/{channel}/edit/"), MANAGERS),
        web(
            "post",
            p("/integrations/channels/{channel}/edit/"),
            MANAGERS,
            lambda w: {**CHANNEL_BODY, "project": w.project.pk, "language": "en"},
        ),
    ],
    "integrations:channel_delete": [
        web("get", p("/integrations/channels/{channel}/delete/"), MANAGERS),
        web("post", p("/integrations/channels/{channel}/delete/"), MANAGERS),
    ],
    "integrations:channel_test": [
        web("post", p("/integrations/channels/{channel}/test/"), MANAGERS)
    ],
    "integrations:slack_commands": [
        Case("post", p("/integrations/slack/commands"), NOBODY, json=False, gate="signature")
    ],
    "integrations:chat_commands": [
        Case("post", p("/integrations/chat/commands"), NOBODY, json=False, gate="signature")
    ],
    "integrations:feishu_events": [
        Case(
            "post",
            p("/integrations/feishu/{feishu_app}/events"),
            NOBODY,
            json=False,
            gate="signature",
        )
    ],
    "integrations:dingtalk_robot": [
        Case(
            "post",
            p("/integrations/dingtalk/{dingtalk_app}/robot"),
            NOBODY,
            json=False,
            gate="signature",
        )
    ],
    "integrations:wecom_callback": [
        Case(
            "get",
            p("/integrations/wecom/{wecom_app}/callback"),
            NOBODY,
            json=False,
            gate="signature",
        ),
        Case(
            "post",
            p("/integrations/wecom/{wecom_app}/callback"),
            NOBODY,
            json=False,
            gate="signature",
        ),
    ],
    "integrations:chat_link": [
        web("get", chat_link, SESSION),
        web("post", chat_link, SESSION),
    ],
    "integrations:chat_identities": [web("get", p("/integrations/chat/accounts/"), SESSION)],
    "integrations:chat_identity_unlink": [
        web(
            "post",
            lambda w, role: f"/integrations/chat/accounts/{w.own_identity(role)}/unlink/",
            SESSION,
        )
    ],
    "integrations:sign_in_account_remove": [
        web(
            "post",
            lambda w, role: f"/integrations/chat/accounts/sign-in/{w.own_sign_in(role)}/remove/",
            SESSION,
        )
    ],
    "integrations:calendar_feeds": [
        web("get", p("/integrations/calendar/"), SESSION),
        web("post", p("/integrations/calendar/"), SESSION, lambda w: {"project": w.project.pk}),
    ],
    "integrations:calendar_feed_regenerate": [
        web(
            "post",
            lambda w, role: f"/integrations/calendar/{w.own_feed(role)}/regenerate/",
            SESSION,
        )
    ],
    "integrations:calendar_feed_revoke": [
        web("post", lambda w, role: f"/integrations/calendar/{w.own_feed(role)}/revoke/", SESSION)
    ],
    # The secret in the URL is the credential: calendars cannot sign in.
    "integrations:calendar_feed": [
        web("get", lambda w, role: f"/integrations/calendar/{w.owner_feed_token}.ics", EVERYONE)
    ],
    "integrations:project_export": [
        web("get", p("/integrations/projects/{project}/export.csv"), READERS)
    ],
    "integrations:project_import": [
        web("get", p("/integrations/projects/{project}/import/"), NODE_CREATORS),
        web("post", p("/integrations/projects/{project}/import/"), NODE_CREATORS, csv_upload),
    ],
    "integrations:history_import": [
        web("get", p("/integrations/history/import/"), STAFF),
        web("post", p("/integrations/history/import/"), STAFF, history_upload),
    ],
    "integrations:report_export": [
        web(
            "get",
            p("/integrations/reports/weekly/2026-W47/departments.csv?project={project}"),
            READERS,
        )
    ],
    # Operations ---------------------------------------------------------------------------
    "healthz": [web("get", p("/healthz"), EVERYONE)],
    "readyz": [Case("get", p("/readyz"), NOBODY, json=False, gate="probe")],
    "metrics": [Case("get", p("/metrics"), NOBODY, json=False, gate="network")],
    # Signing in and out ---------------------------------------------------------------------
    "set_language": [web("post", p("/i18n/setlang/"), EVERYONE, lambda w: {"language": "en"})],
    "login": [web("get", p("/accounts/login/"), EVERYONE)],
    "account_login": [web("get", p("/accounts/login/"), EVERYONE)],  # allauth's name for it
    # Single sign-on: open to everyone (they are how one signs in). The chat platforms' are
    # configured for this test: the button's POST goes to the platform, a callback without a
    # code is a failed sign-in (401 for everyone); OpenID Connect's is not: 404.
    **{
        f"{platform}_login": [web("post", p(f"/accounts/{platform}/login/"), EVERYONE)]
        for platform in ("feishu", "dingtalk", "wecom")
    },
    **{
        f"{platform}_callback": [
            Case(
                "get",
                p(f"/accounts/{platform}/login/callback/"),
                NOBODY,
                json=False,
                gate="failed sign-in",
            )
        ]
        for platform in ("feishu", "dingtalk", "wecom")
    },
    "openid_connect_login": [
        Case("post", p("/accounts/oidc/idp/login/"), NOBODY, json=False, gate="unconfigured")
    ],
    "openid_connect_callback": [
        Case(
            "get", p("/accounts/oidc/idp/login/callback/"), NOBODY, json=False, gate="unconfigured"
        )
    ],
    "socialaccount_login_cancelled": [web("get", p("/accounts/social/login/cancelled/"), EVERYONE)],
    "socialaccount_login_error": [
        Case("get", p("/accounts/social/login/error/"), NOBODY, json=False, gate="failed sign-in")
    ],
    # Without a sign-in waiting for an account, it sends one back to the sign-in page.
    "socialaccount_signup": [web("get", p("/accounts/social/signup/"), EVERYONE)],
    "web:project_settings": [
        web("get", p("/projects/{project}/settings/"), MANAGERS),
    ],
    "api:calendar": [
        api("get", p("/api/v1/calendar/?year=2026"), READERS),
        api(
            "post",
            p("/api/v1/calendar/"),
            STAFF,
            lambda w: {"date": "2026-12-24", "kind": "holiday", "name": "Company day"},
        ),
    ],
    "api:calendar-working-day": [
        api("get", p("/api/v1/calendar/working-day/?date=2026-10-10"), READERS),
    ],
    "api:calendar-override": [api("delete", p("/api/v1/calendar/2026-12-25/"), STAFF)],
    "logout": [web("post", p("/accounts/logout/"), EVERYONE)],
    "password_change": [web("get", p("/accounts/password_change/"), SESSION)],
    "password_change_done": [web("get", p("/accounts/password_change/done/"), SESSION)],
    "password_reset": [web("get", p("/accounts/password_reset/"), EVERYONE)],
    "password_reset_done": [web("get", p("/accounts/password_reset/done/"), EVERYONE)],
    "password_reset_confirm": [web("get", p("/accounts/reset/MQ/bad-token/"), EVERYONE)],
    "password_reset_complete": [web("get", p("/accounts/reset/done/"), EVERYONE)],
}


def _routes(patterns, namespace: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            inner = ":".join(x for x in (namespace, pattern.namespace or "") if x)
            yield from _routes(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            yield (f"{namespace}:{pattern.name}" if namespace else pattern.name), pattern


def test_every_route_has_a_row_and_every_row_a_route():
    routes: dict[str, set[str]] = {}
    for name, pattern in _routes(get_resolver().url_patterns):
        actions = getattr(pattern.callback, "actions", None) or {}  # a DRF viewset's methods
        routes.setdefault(name, set()).update(set(actions) - {"head", "options"})
    assert sorted(set(routes) - set(ROUTES)) == [], "routes without a row in ROUTES"
    assert sorted(set(ROUTES) - set(routes)) == [], "rows for routes that do not exist"
    for name, methods in routes.items():
        if methods:
            assert {case.method for case in ROUTES[name]} == methods, name


def outcome(response) -> str:
    code = response.status_code
    login = resolve_url(settings.LOGIN_URL) + "?next="  # where login_required sends one
    if code == 401 or (code == 302 and response["Location"].startswith(login)):
        return "sign in"
    if code in (403, 404):  # 404: a row the reader may not even see (another's channel)
        return "refused"
    if code < 400:
        return "ok"
    return f"error {code}: {response.content[:300]!r}"


def expected(case: Case, role: str) -> str:
    if role in case.allowed:
        return "ok"
    if role == "anonymous" or (role == "token" and not case.json and "token" not in case.allowed):
        return "sign in"  # the web UI takes no tokens, except for downloads
    return "refused"


CASES = [
    pytest.param(name, index, role, id=f"{name}-{case.method}-{role}")
    for name, cases in ROUTES.items()
    for index, case in enumerate(cases)
    for role in ROLES
]


@pytest.mark.parametrize(("name", "index", "role"), CASES)
def test_route_allows_exactly_its_roles(name, index, role, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.SLACK_SIGNING_SECRET = "slack-secret"
    settings.CHAT_COMMAND_SECRET = "whsec_" + "A" * 32
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.SOCIALACCOUNT_PROVIDERS = {
        platform: {**settings.SOCIALACCOUNT_PROVIDERS[platform], "APPS": [app]}
        for platform, app in SSO_APPS.items()
    }
    case = ROUTES[name][index]
    world = World()
    client = APIClient() if case.json else Client()
    if role == "token":
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {world.key}"
    elif role != "anonymous":
        client.force_login(world.users[role])
    path = case.path(world, role)
    data = case.data(world) if case.data else None
    if case.if_match:
        client.defaults["HTTP_IF_MATCH"] = f'"{world.node.version}"'
    if case.json:
        response = getattr(client, case.method)(path, data, format="json")
    else:
        response = getattr(client, case.method)(path, data or {})
    if case.gate:
        assert response.status_code in GATES[case.gate], response.content
        return
    assert outcome(response) == expected(case, role), (response.status_code, path)
