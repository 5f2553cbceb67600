"""Chinese pages, the shipped catalogue, and the wording of times and counts."""

import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from tests.factories import UserFactory
from tracker.web.templatetags.milepost import countdown, percent, relative, signed_days

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
NOW = datetime(2026, 11, 11, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def compiled():
    if not (CATALOGUE / "django.mo").exists():
        pytest.fail("The translations are not compiled: run `make messages`.")


SHIPPED_CATALOGUES = sorted(
    path
    for path in Path(settings.BASE_DIR).glob("**/locale/zh_Hans/LC_MESSAGES/django.po")
    if ".venv" not in path.parts
)


def test_the_project_catalogue_is_shipped():
    assert CATALOGUE / "django.po" in SHIPPED_CATALOGUES


@pytest.mark.parametrize(
    "catalogue", SHIPPED_CATALOGUES, ids=lambda p: str(p.relative_to(settings.BASE_DIR))
)
def test_every_catalogue_is_complete(catalogue):
    """Every message of every shipped zh_Hans catalogue is translated, none is fuzzy."""
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(catalogue)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "translated messages" in result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr


# An ASCII colon right after Chinese text (or its closing punctuation): Chinese takes "：".
HALF_WIDTH_COLON = re.compile(r"[\u3400-\u9fff\uff09\u300b\u300d\u201d]:")


@pytest.mark.parametrize(
    "catalogue", SHIPPED_CATALOGUES, ids=lambda p: str(p.relative_to(settings.BASE_DIR))
)
def test_chinese_reads_as_chinese_full_width_colons_and_no_ambiguous_anyone(catalogue):
    """Issue 16: full-width colons throughout, and "Anyone" (a filter's empty choice) is 不限,
    never 所有人 (which reads as "owner")."""
    flat = subprocess.run(
        ["msgcat", "--no-wrap", "--no-location", str(catalogue)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    translations = [line for line in flat.splitlines() if line.startswith("msgstr")]
    assert translations
    assert [line for line in translations if HALF_WIDTH_COLON.search(line)] == []
    assert [line for line in translations if "所有人" in line] == []


def test_anyone_is_bu_xian_on_the_board_filter(compiled):
    with translation.override("zh-hans"):
        assert translation.gettext("Anyone") == "不限"
        assert translation.gettext(":") == "："  # Django's label suffix


def test_every_message_in_the_source_is_translated(tmp_path):
    """`makemessages` run on a copy of the code finds no message that a catalogue lacks, so a
    new string without its Chinese fails here, not in front of a user."""
    base = Path(settings.BASE_DIR)
    for name in ("manage.py", "config", "tracker", "templates", "locale"):
        source = base / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tmp_path / name)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "-v", "0"],
        cwd=tmp_path,
        env={**os.environ, "DEBUG": "true"},
        check=True,
    )
    missing = {}
    for catalogue in sorted(tmp_path.glob("**/locale/zh_Hans/LC_MESSAGES/django.po")):
        lacking = (
            subprocess.run(
                ["msgattrib", "--untranslated", "--no-location", "--no-wrap", str(catalogue)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            + subprocess.run(
                ["msgattrib", "--only-fuzzy", "--no-location", "--no-wrap", str(catalogue)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        ids = [
            line
            for line in lacking.splitlines()
            if line.startswith('msgid "') and line != 'msgid ""'
        ]
        if ids:
            missing[str(catalogue.relative_to(tmp_path))] = ids
    assert not missing, missing


@pytest.mark.django_db
def test_board_in_chinese_by_cookie(client_for, compiled, owner, project, node):
    client = client_for(owner)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    html = client.get(reverse("web:board", args=[project.pk])).content.decode()
    assert '<html lang="zh-hans">' in html
    for text in ("看板", "时间线", "待办", "进行中", "受阻", "已完成", "已取消", "我的工作"):
        assert text in html


@pytest.mark.django_db
def test_a_users_saved_language_is_used_without_a_cookie(client_for, compiled):
    user = UserFactory(language="zh-hans")
    html = client_for(user).get(reverse("web:home")).content.decode()
    assert "本周到期" in html


@pytest.mark.django_db
def test_login_page_follows_the_browser(client, compiled):
    html = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert "登录 Milepost" in html


@pytest.mark.parametrize(
    ("moment", "english", "chinese"),
    [
        (NOW + timedelta(minutes=20), "in 20 minutes", "20 分钟后"),
        (NOW - timedelta(minutes=1), "1 minute ago", "1 分钟前"),
        (NOW + timedelta(hours=5), "in 5 hours", "5 小时后"),
        (NOW - timedelta(hours=3), "3 hours ago", "3 小时前"),
        (NOW + timedelta(days=1), "tomorrow", "明天"),
        (NOW - timedelta(days=1), "yesterday", "昨天"),
        (NOW + timedelta(days=9), "in 9 days", "9 天后"),
        (NOW - timedelta(days=4), "4 days ago", "4 天前"),
        (None, "", ""),
    ],
)
def test_relative_times(settings, compiled, moment, english, chinese):
    settings.TIME_ZONE = "Asia/Shanghai"
    with translation.override("en"):
        assert relative(moment, NOW) == english
    with translation.override("zh-hans"):
        assert relative(moment, NOW) == chinese


@pytest.mark.parametrize(
    ("function", "value", "expected"),
    [
        (countdown, 12, "D-12"),
        (countdown, 0, "D-day"),
        (countdown, -3, "D+3"),
        (percent, 0.1234, "12.3%"),
        (percent, None, "—"),
        (signed_days, 2.0, "+2 days"),
        (signed_days, -1.0, "-1 day"),
        (signed_days, 0.5, "+0.5 days"),
        (signed_days, None, ""),
    ],
)
def test_small_formats(function, value, expected):
    with translation.override("en"):
        assert function(value) == expected
