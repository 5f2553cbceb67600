"""Chat commands: `overdue [project]`, `mine`, `done <node id>`, `snooze <node id> <for>`,
`report [week]`, `help`.

One service for every platform: the endpoints verify the request, find the Milepost user behind
the chat account and call `command_run`; the reply is formatted for the platform afterwards.
Reads start from `visible_to(user)`; writes go through `milestone_update`, which checks the
user as the API does and records the history.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tracker.accounts.models import User
from tracker.alerts.models import SnoozeVia
from tracker.alerts.snoozing import alert_snooze, snooze_until
from tracker.core.errors import PermissionDeniedError
from tracker.integrations.platforms.base import format_due, report_lines
from tracker.milestones.models import Milestone, MilestoneStatus
from tracker.milestones.selectors import deviation_reason_find
from tracker.milestones.services import milestone_update, reason_codes_text
from tracker.notifications.links import node_url, report_url
from tracker.projects.models import Project
from tracker.reports.periods import PeriodKind, parse_week, week_period
from tracker.reports.selectors import report_of_record

LIST_LIMIT = 15
NODE_ID = re.compile(r"^#?(\d{1,18})$")
ALIASES = {
    "overdue": "overdue",
    "逾期": "overdue",
    "mine": "mine",
    "我的": "mine",
    "done": "done",
    "完成": "done",
    "snooze": "snooze",
    "暂停提醒": "snooze",
    "report": "report",
    "周报": "report",
    "help": "help",
    "帮助": "help",
    "?": "help",
}


@dataclass
class Row:
    text: str
    url: str = ""
    node_id: int | None = None  # a node's row: platforms with buttons offer actions on it


@dataclass
class Reply:
    """What a command answers: a heading and rows (each optionally linked)."""

    heading: str
    rows: list[Row] = field(default_factory=list)
    ok: bool = True

    def markdown(self, escape: Callable[[str], str] = str) -> str:
        """Markdown, its text passed through the platform's `escape` (titles are untrusted)."""
        lines = [f"**{escape(self.heading)}**"]
        lines += [
            f"- [{escape(r.text)}]({r.url})" if r.url else f"- {escape(r.text)}" for r in self.rows
        ]
        return "\n".join(lines)

    def slack(self) -> str:
        def esc(text: str) -> str:
            return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

        lines = [f"*{esc(self.heading)}*"]
        lines += [f"• <{r.url}|{esc(r.text)}>" if r.url else f"• {esc(r.text)}" for r in self.rows]
        return "\n".join(lines)

    def plain(self) -> str:
        lines = [self.heading]
        lines += [f"- {r.text} {r.url}".rstrip() for r in self.rows]
        return "\n".join(lines)


def node_row(node: Milestone) -> Row:
    """A node as a reply row: id, title, project, department, assignee, due (overdue marked)."""
    facts = [node.project.name, node.department.name]
    if node.assignee_id:
        facts.append(str(node.assignee))  # the display name: a label, not a chat mention
    facts.append(_("due %(when)s") % {"when": format_due(node.due_at)})
    prefix = _("OVERDUE") + " " if node.is_overdue else ""
    return Row(f"{prefix}#{node.pk} {node.title} · {' · '.join(facts)}", node_url(node.pk), node.pk)


def _list_reply(heading: str, queryset, now: datetime, empty: str) -> Reply:
    nodes = list(
        queryset.with_flags(now).select_related("project", "department", "assignee")[
            : LIST_LIMIT + 1
        ]
    )
    if not nodes:
        return Reply(empty)
    rows = [node_row(node) for node in nodes[:LIST_LIMIT]]
    if len(nodes) > LIST_LIMIT:
        total = queryset.count()
        rows.append(Row(_("…and %(count)s more") % {"count": total - LIST_LIMIT}))
    return Reply(heading, rows)


def _find_project(user: User, term: str) -> tuple[Project | None, str]:
    """A project `user` reads by id, exact name or unique part of a name; or why not."""
    projects = Project.objects.visible_to(user)
    match = NODE_ID.match(term)
    if match:
        project = projects.filter(pk=int(match[1])).first()
        if project:
            return project, ""
    exact = list(projects.filter(name__iexact=term)[:2])
    found = exact or list(projects.filter(name__icontains=term).order_by("name")[:6])
    if len(found) == 1:
        return found[0], ""
    if not found:
        return None, _("No project matches “%(term)s”.") % {"term": term}
    names = ", ".join(f"{p.name} (#{p.pk})" for p in found[:5])
    return None, _("Several projects match “%(term)s”: %(names)s. Give the id.") % {
        "term": term,
        "names": names,
    }


def _overdue(user: User, args: str, now: datetime, platform: str) -> Reply:
    queryset = Milestone.objects.visible_to(user).overdue(now).order_by("due_at", "id")
    heading = _("Overdue nodes")
    if args:
        project, problem = _find_project(user, args)
        if project is None:
            return Reply(problem, ok=False)
        queryset = queryset.filter(project=project)
        heading = _("Overdue nodes in %(project)s") % {"project": project.name}
    return _list_reply(heading, queryset, now, _("Nothing is overdue."))


def _mine(user: User, args: str, now: datetime, platform: str) -> Reply:
    queryset = (
        Milestone.objects.visible_to(user)
        .in_active_projects()
        .open()
        .filter(assignee=user)
        .order_by("due_at", "id")
    )
    return _list_reply(
        _("Your open nodes"), queryset, now, _("You have no open nodes assigned to you.")
    )


def _done(user: User, args: str, now: datetime, platform: str) -> Reply:
    """`done 42`, or `done 42 supplier` / `完成 42 供应商` with a reason (a code or the start of
    its name) when the node is late or its project's rules need one."""
    words = (args or "").split(None, 1)
    match = NODE_ID.match(words[0]) if words else None
    said = words[1].strip() if len(words) > 1 else ""
    if not match:
        return Reply(_("Say which node: done <node id>, for example done 42."), ok=False)
    node = (
        Milestone.objects.visible_to(user, include_archived=True).filter(pk=int(match[1])).first()
    )
    if node is None:
        return Reply(_("There is no node #%(id)s.") % {"id": match[1]}, ok=False)
    row = Row(f"#{node.pk} {node.title}", node_url(node.pk))
    reason = deviation_reason_find(said) if said else None
    if said and reason is None:
        return Reply(
            _("Unknown reason “%(reason)s”. Reason codes: %(codes)s")
            % {"reason": said, "codes": reason_codes_text()},
            [row],
            ok=False,
        )
    try:
        # Done already: no change, so nothing is written (but a stranger is still refused).
        milestone_update(
            milestone_id=node.pk,
            actor=user,
            data={"status": MilestoneStatus.DONE},
            change_reason=_("Marked done from %(platform)s.") % {"platform": platform},
            reason_code=reason.code if reason else "",
            now=now,
        )
    except PermissionDeniedError as exc:
        return Reply(str(exc), [row], ok=False)
    except ValidationError as exc:
        if "reason_code" in getattr(exc, "error_dict", {}):
            return Reply(
                _(
                    "Node #%(id)s needs a reason: done %(id)s <reason>, for example "
                    "done %(id)s supplier. Reason codes: %(codes)s"
                )
                % {"id": node.pk, "codes": reason_codes_text()},
                [row],
                ok=False,
            )
        return Reply(" ".join(exc.messages), [row], ok=False)
    if node.status == MilestoneStatus.DONE:
        return Reply(_("Node #%(id)s is already done.") % {"id": node.pk}, [row])
    return Reply(_("Marked node #%(id)s done.") % {"id": node.pk}, [row])


def _snooze(user: User, args: str, now: datetime, platform: str) -> Reply:
    """`snooze 42 1d` / `暂停提醒 42 3h`: pause the repeat reminders of node 42's lateness for
    a while (1h, 3h, 1d, tomorrow, or until a date)."""
    words = (args or "").split(None, 1)
    match = NODE_ID.match(words[0]) if words else None
    if not match or len(words) < 2:
        return Reply(_("Say which node and how long: snooze <node id> <1h|1d|date>."), ok=False)
    node = Milestone.objects.visible_to(user).filter(pk=int(match[1])).first()
    if node is None:
        return Reply(_("There is no node #%(id)s.") % {"id": match[1]}, ok=False)
    row = Row(f"#{node.pk} {node.title}", node_url(node.pk))
    try:
        until = snooze_until(words[1], now=now)
        alert_snooze(actor=user, milestone_id=node.pk, until=until, via=SnoozeVia.CHAT, now=now)
    except PermissionDeniedError as exc:
        return Reply(str(exc), [row], ok=False)
    except ValidationError as exc:
        return Reply(" ".join(exc.messages), [row], ok=False)
    return Reply(
        _("Snoozed node #%(id)s until %(until)s.")
        % {"id": node.pk, "until": timezone.localtime(until).strftime("%Y-%m-%d %H:%M")},
        [row],
    )


def _report(user: User, args: str, now: datetime, platform: str) -> Reply:
    try:
        period = parse_week(args.upper()) if args else week_period(now)
    except ValidationError as exc:
        return Reply(" ".join(exc.messages), ok=False)
    report = report_of_record(period=period, as_of=now)
    heading = _("Deviation report %(week)s") % {"week": period.label}
    rows = [Row(line) for line in report_lines(report)]
    rows.append(Row(_("Full report"), report_url(PeriodKind.WEEK.adjective, period.label)))
    return Reply(heading, rows)


def _help(user: User | None = None, args: str = "", now=None, platform: str = "") -> Reply:
    return Reply(
        _("Milepost commands"),
        [
            Row(_("overdue [project] — overdue nodes, of every project or of one")),
            Row(_("mine — your open nodes")),
            Row(_("done <node id> [reason] — mark a node done (e.g. done 42, done 42 supplier)")),
            Row(_("snooze <node id> <1h|1d|date> — pause a late node's reminders (snooze 42 1d)")),
            Row(_("report [week] — the deviation report of a week (e.g. report 2026-W47)")),
            Row(_("help — this list")),
        ],
    )


COMMANDS: dict[str, Callable[[User, str, datetime, str], Reply]] = {
    "overdue": _overdue,
    "mine": _mine,
    "done": _done,
    "snooze": _snooze,
    "report": _report,
    "help": _help,
}


def parse_command(text: str) -> tuple[str, str]:
    """('done', '42') from '@Milepost done 42'; ('', text) when the word is unknown."""
    words = (text or "").strip().split(None, 1)
    while words and words[0].startswith("@"):
        # Group bots are addressed with a mention in front of the command.
        words = words[1].split(None, 1) if len(words) > 1 else []
    if not words:
        return "help", ""
    name = ALIASES.get(words[0].lower(), "")
    return name, (words[1].strip() if len(words) > 1 else "")


def command_run(
    *,
    user: User | None,
    text: str,
    platform: str,
    link_url: str = "",
    now: datetime | None = None,
) -> Reply:
    """Run one command for `user` (None: an unknown chat account, which changes nothing)."""
    now = now or timezone.now()
    language = user.language if user is not None else settings.LANGUAGE_CODE
    with translation.override(language):
        if user is None or not user.is_active:
            rows = [Row(_("Link your chat account to Milepost"), link_url)] if link_url else []
            return Reply(
                _("I don't know you yet: no Milepost user is linked to this chat account."),
                rows,
                ok=False,
            )
        name, args = parse_command(text)
        if not name:
            reply = _help()
            reply.heading = _("Unknown command “%(text)s”. Milepost commands:") % {
                "text": text.strip()[:50]
            }
            reply.ok = False
            return reply
        return COMMANDS[name](user, args, now, platform)
