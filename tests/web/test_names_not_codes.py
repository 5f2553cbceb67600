"""Names, not codes (issue 16): every page, email, chat message and export that labels a person
or a department shows the display name and the department's name, never the username or the
department code.

One person whose username (`zz_user_q7`) is nothing like their name (Qiao Qi), one department
whose code (`ZZQ`) is nothing like its name (Quality Quarter). Each surface is rendered and its
*visible* text (HTML text and the title/aria-label/placeholder/alt attributes; not the values,
ids, URLs and data attributes that programs read) must not hold either.

Where the code or username is an identifier by design, the test says so and allows it:
- the filters' `<option value>` and the URLs (`?assignee=zz_user_q7&department=ZZQ`);
- @mention handles in comment bodies (`@zz_user_q7`: what a person types to mention);
- the project export's `department` and `assignee` columns: the import template's key
  columns (the import reads them back, tracker/integrations/spreadsheets/importing.py);
- the report export's departments table `code` column, beside its `name` column;
- the signed webhook's `assignee` field (docs/schemas/webhook-v1.json: for programs; people
  read `assignee_name`).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from django.urls import reverse

from tests.factories import (
    BaselinedProjectFactory,
    DepartmentFactory,
    MembershipFactory,
    MilestoneFactory,
    UserFactory,
)
from tracker.alerts.services import alerts_scan
from tracker.integrations.platforms import PLATFORMS, Message
from tracker.integrations.spreadsheets.exporting import ANALYSIS_TABLES, REPORT_TABLES
from tracker.milestones.models import MilestoneStatus
from tracker.notifications.chat import chat_payload
from tracker.notifications.comments import comment_post
from tracker.notifications.emails import render_email
from tracker.notifications.models import Channel, ChannelKind, OutboxMessage
from tracker.reports.services import report_run_scheduled

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 13, 12, 0, tzinfo=SHANGHAI)  # Friday of ISO week 2026-W46
MONDAY = datetime(2026, 11, 9, 18, 0, tzinfo=SHANGHAI)
USERNAME, DISPLAY = "zz_user_q7", "Qiao Qi"
CODE, DEPARTMENT = "ZZQ", "Quality Quarter"
VISIBLE_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "aria-description"}


class VisibleText(HTMLParser):
    """The text a reader sees (or hears, from a screen reader) of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "style", "template"}:
            self._hidden += 1
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in {"script", "style", "template"} and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


def assert_names_only(text: str, where: str, *, named: bool = True) -> None:
    assert USERNAME not in text, f"{where} shows the username {USERNAME}"
    assert CODE not in text, f"{where} shows the department code {CODE}"
    if named:  # the surface does show the person or the department (the test is not empty)
        assert DISPLAY in text or DEPARTMENT in text, f"{where} names neither"


@pytest.fixture(autouse=True)
def frozen(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    settings.SITE_URL = "https://milepost.example.com"
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world():
    person = UserFactory(
        username=USERNAME, first_name="Qiao", last_name="Qi", email="qiao.qi@example.com"
    )
    boss = UserFactory(username="zz_boss_b2", first_name="Bo", last_name="Shi", is_staff=True)
    department = DepartmentFactory(code=CODE, name=DEPARTMENT, lead=person)
    MembershipFactory(user=person, department=department)
    project = BaselinedProjectFactory(owner=person, name="Harvest Sale")
    late = MilestoneFactory(
        project=project,
        department=department,
        assignee=person,
        title="Price sheet",
        due_at=MONDAY,
        status=MilestoneStatus.DONE,
        completed_at=MONDAY + timedelta(days=2),
    )
    open_late = MilestoneFactory(
        project=project,
        department=department,
        assignee=person,
        title="Banner copy",
        due_at=MONDAY + timedelta(days=1),
    )
    MilestoneFactory(
        project=project,
        department=department,
        assignee=person,
        title="Stock check",
        due_at=NOW + timedelta(days=2),
    )
    return {
        "person": person,
        "boss": boss,
        "department": department,
        "project": project,
        "late": late,
        "open": open_late,
    }


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


@pytest.mark.parametrize("viewer", ["person", "boss"])
def test_pages_name_people_and_departments(client, world, viewer):
    client.force_login(world[viewer])
    project, node = world["project"], world["open"]
    comment_post(actor=world["boss"], milestone_id=node.pk, body="Please check the copy")
    comment_post(actor=world["person"], milestone_id=node.pk, body="@zz_boss_b2 done soon")
    board = reverse("web:board", args=[project.pk])
    urls = {
        "My work": reverse("web:home"),
        "projects list": reverse("web:project_list"),
        "board": board,
        # The filters: the option values are identifiers (allowed), the chosen ones are shown
        # by name.
        "board, filtered": f"{board}?assignee={USERNAME}&department={CODE}",
        "list view": reverse("web:node_list", args=[project.pk]),
        "list view, filtered": (
            reverse("web:node_list", args=[project.pk]) + f"?assignee={USERNAME}&department={CODE}"
        ),
        "timeline": reverse("web:timeline", args=[project.pk]),
        "project audit": reverse("web:project_audit", args=[project.pk]),
        "project settings": reverse("web:project_settings", args=[project.pk]),
        "node panel": reverse("web:node_detail", args=[node.pk]),
        "card": reverse("web:card", args=[node.pk]),
        "card editor": reverse("web:card_edit", args=[node.pk]),
        "weekly report": reverse("web:report_weekly") + "?week=2026-W46",
        "weekly report, by department": (
            reverse("web:report_weekly") + f"?week=2026-W46&department={world['department'].pk}"
        ),
        "monthly report": reverse("web:report_monthly") + "?month=2026-11",
        "inbox": reverse("web:inbox"),
    }
    for where, url in urls.items():
        # Staff who own and lead nothing have nothing in My work.
        named = not (where == "My work" and viewer == "boss")
        assert_names_only(visible(page(client, url)), where, named=named)


def test_a_mention_handle_is_an_identifier_by_design(client, world):
    """`@zz_user_q7` in a comment is what its author typed to mention the person: shown as
    written (the notification names the person)."""
    node = world["open"]
    comment_post(actor=world["boss"], milestone_id=node.pk, body=f"@{USERNAME} see this")
    client.force_login(world["boss"])
    text = visible(page(client, reverse("web:node_detail", args=[node.pk])))
    assert f"@{USERNAME}" in text
    assert_names_only(text.replace(f"@{USERNAME}", ""), "node panel with a mention")
    message = OutboxMessage.objects.get(recipient=world["person"])
    email = render_email(message)
    assert f"{DISPLAY}" not in email.subject and "Bo Shi mentioned you" in email.subject
    assert USERNAME not in email.subject


def test_alert_emails_and_chat_messages_name_people(world):
    project = world["project"]
    for kind in (ChannelKind.FEISHU, ChannelKind.SLACK, ChannelKind.DINGTALK, ChannelKind.WECOM):
        Channel.objects.create(
            name=f"room {kind}",
            kind=kind,
            url=f"https://chat.example.com/{kind}",
            events=["overdue", "escalation", "due_soon"],
            project=project,
        )
    alerts_scan(now=NOW)
    emails = OutboxMessage.objects.filter(recipient__isnull=False)
    chats = OutboxMessage.objects.filter(channel__isnull=False).select_related("channel")
    assert emails.exists() and chats.count() == 4
    for message in emails:
        rendered = render_email(message)
        assert_names_only(rendered.text, f"alert email ({message.event}), text")
        assert_names_only(visible(rendered.html), f"alert email ({message.event}), html")
        assert USERNAME not in rendered.subject and CODE not in rendered.subject
    for message in chats:
        payload = chat_payload(message)
        body = PLATFORMS[message.channel.kind].build_body(Message.from_payload(payload))
        text = str(body)
        assert_names_only(text, f"{message.channel.kind} chat message")


def test_report_emails_and_chat_messages_name_departments(world):
    Channel.objects.create(
        name="reports",
        kind=ChannelKind.FEISHU,
        url="https://chat.example.com/r",
        events=["weekly_report", "monthly_report"],
    )
    after = datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)  # W49's Tuesday, after November
    with time_machine.travel(after, tick=False):
        report_run_scheduled(kind="week", now=datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI))
        report_run_scheduled(kind="month", now=after)
        emails = list(OutboxMessage.objects.filter(recipient__isnull=False))
        assert {m.event for m in emails} >= {"weekly_report", "monthly_report"}
        for message in emails:
            rendered = render_email(message, now=after)
            assert_names_only(rendered.text, f"{message.event} email, text")
            assert_names_only(visible(rendered.html), f"{message.event} email, html")
        for message in OutboxMessage.objects.filter(channel__isnull=False):
            body = PLATFORMS[ChannelKind.FEISHU].build_body(
                Message.from_payload(chat_payload(message))
            )
            assert_names_only(str(body), f"{message.payload['event']} chat message")


def read_export(response) -> list[list[str]]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if response["Content-Type"].startswith("text/csv"):
        return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
    return [
        ["" if cell is None else str(cell) for cell in row]
        for row in sheet.iter_rows(values_only=True)
    ]


# The columns that are identifiers by design (see the module's docstring).
IDENTIFIER_COLUMNS = {
    "project": {"department", "assignee"},
    "departments": {"code"},
    "slips": {"department_code", "assignee_username"},
    "restatements": {"actor_username"},
}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_label_people_and_departments_by_name(client, world, fmt):
    client.force_login(world["boss"])
    project = world["project"]
    exports = {
        "project": reverse(
            "integrations:project_export", kwargs={"project_id": project.pk, "fmt": fmt}
        )
    }
    for table in REPORT_TABLES:
        exports[table] = reverse(
            "integrations:report_export",
            kwargs={"kind": "weekly", "label": "2026-W46", "table": table, "fmt": fmt},
        )
    for table in ANALYSIS_TABLES:
        exports[table] = reverse(
            "integrations:report_export",
            kwargs={"kind": "monthly", "label": "2026-11", "table": table, "fmt": fmt},
        )
    for table, url in exports.items():
        response = client.get(url)
        assert response.status_code == 200, (table, response.status_code)
        headers, *rows = read_export(response)
        allowed = IDENTIFIER_COLUMNS.get(table, set())
        for row in rows:
            for header, value in zip(headers, row, strict=False):
                if header in allowed:
                    continue
                assert value not in {USERNAME, CODE}, f"{table}.{fmt} column {header}: {value}"
                assert USERNAME not in value, f"{table}.{fmt} column {header}: {value}"
    # The identifier columns carry what the import reads back.
    headers, *rows = read_export(client.get(exports["project"]))
    assert {row[headers.index("assignee")] for row in rows} == {USERNAME}
    assert {row[headers.index("department")] for row in rows} == {CODE}


def test_restatements_name_who_changed_the_figure(client, world):
    """A change after the figure of record was taken (here the threshold, by the owner) lists
    who made it by name on the report page and in its export."""
    from tracker.projects.services import project_update

    monday = datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(monday, tick=False):
        report_run_scheduled(kind="week", now=monday)
    with time_machine.travel(monday + timedelta(days=1), tick=False):
        project_update(
            project=world["project"],
            actor=world["person"],
            data={"deviation_threshold": Decimal("0.2")},
        )
        client.force_login(world["boss"])
        text = visible(page(client, reverse("web:report_weekly") + "?week=2026-W46"))
        assert "Restatement" in text or "restatement" in text
        assert_names_only(text, "weekly report with a restatement")
        for fmt in ("csv", "xlsx"):
            url = reverse(
                "integrations:report_export",
                kwargs={"kind": "weekly", "label": "2026-W46", "table": "restatements", "fmt": fmt},
            )
            headers, *rows = read_export(client.get(url))
            assert rows, "the threshold change is a restatement"
            assert {row[headers.index("actor")] for row in rows} == {DISPLAY}
            assert {row[headers.index("actor_username")] for row in rows} == {USERNAME}


def test_chat_command_replies_name_the_assignee(world):
    """The rows a chat command answers with (`overdue`, `my`, `week`…)."""
    from tracker.integrations.commands import node_row
    from tracker.milestones.models import Milestone

    node = (
        Milestone.objects.with_flags(NOW)
        .select_related("project", "department", "assignee")
        .get(pk=world["open"].pk)
    )
    assert_names_only(node_row(node).text, "chat command reply")
