"""Snoozing and acknowledging a late node from the web, the email's signed link and chat."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.alerts.support import make_team
from tracker.alerts.models import Alert, AlertSnooze
from tracker.alerts.services import alerts_scan
from tracker.alerts.snoozing import snooze_token
from tracker.integrations.commands import command_run
from tracker.milestones.models import LatenessEpisode, Promise
from tracker.milestones.services import deviation_reasons_install

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


@pytest.fixture
def late(settings):
    settings.ALERTS_AT_ANY_HOUR = True
    deviation_reasons_install()
    team = make_team()
    node = team.node(timezone.now() - 2 * H, title="Price approval")
    alerts_scan(now=timezone.now())
    return team, node


def test_the_node_panel_shows_the_episode_and_snoozes_it(late):
    team, node = late
    client = Client()
    client.force_login(team.assignee)
    page = client.get(reverse("web:node_detail", args=[node.pk]))
    assert b"Lateness" in page.content and b"Snooze 1 hour" in page.content
    answer = client.post(reverse("web:node_snooze", args=[node.pk]), {"until": "1h"})
    assert answer.status_code == 302
    episode = LatenessEpisode.objects.get(milestone=node)
    assert episode.snoozed_until > timezone.now() + 50 * timedelta(minutes=1)
    assert AlertSnooze.objects.get().via == "web"


def test_the_node_panel_acknowledges_and_refuses_bad_input(late):
    team, node = late
    client = Client()
    client.force_login(team.lead)
    url = reverse("web:node_acknowledge", args=[node.pk])
    client.post(url, {"promised_at": "not a date", "reason_code": "supplier"})
    assert not Promise.objects.exists()
    promised = (timezone.localtime() + 24 * H).strftime("%Y-%m-%dT%H:%M")
    client.post(url, {"promised_at": promised, "reason_code": "supplier", "note": "stock"})
    assert Promise.objects.get().reason_code == "supplier"
    stranger = Client()
    stranger.force_login(team.owner)
    stranger.post(url, {"promised_at": promised, "reason_code": "supplier"})
    assert Promise.objects.count() == 1  # the owner is told, not the one to promise


def test_the_emails_signed_link_asks_then_snoozes(late):
    team, node = late
    alert = Alert.objects.get(milestone=node, kind="overdue")
    token = snooze_token(user=team.assignee, alert_id=alert.pk, choice="tomorrow")
    url = reverse("web:alert_snooze_link", args=[token])
    anonymous = Client(enforce_csrf_checks=True)
    assert anonymous.get(url).status_code == 200
    assert not AlertSnooze.objects.exists()  # a link checker's GET changes nothing
    assert anonymous.post(url).status_code == 200
    snooze = AlertSnooze.objects.get()
    assert (snooze.via, timezone.localtime(snooze.until).hour) == ("email", 9)
    assert anonymous.post(url[:-5] + "xxxx/").status_code == 400  # a forged token


def test_the_chat_command_snoozes_a_late_node(late):
    team, node = late
    reply = command_run(user=team.assignee, text=f"snooze {node.pk} 1d", platform="Slack")
    assert reply.ok, reply.heading
    assert AlertSnooze.objects.get().via == "chat"
    refused = command_run(user=team.assignee, text=f"snooze {node.pk} soon", platform="Slack")
    assert not refused.ok
    unknown = command_run(user=team.assignee, text="snooze 999999 1h", platform="Slack")
    assert not unknown.ok
