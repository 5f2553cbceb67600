import base64
import secrets

import pytest
from django.core.cache import cache

from tests.browser.conftest import browser, open_context, screenshot  # noqa: F401 (fixtures)
from tests.integrations.chatserver import ChatServer
from tracker.notifications.models import Channel


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit windows and seen signatures live in the (Redis) cache: start each test empty."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def _chat_server_process():
    server = ChatServer().start()
    yield server
    server.stop()


@pytest.fixture
def chat_server(_chat_server_process, settings):
    """The loopback platform server, emptied for this test; private addresses allowed."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    _chat_server_process.reset()
    return _chat_server_process


def whsec() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


PATHS = {
    "feishu": "/feishu/open-apis/bot/v2/hook/t0ken",
    "dingtalk": "/dingtalk/robot/send?access_token=abc123",
    "wecom": "/wecom/cgi-bin/webhook/send?key=k3y",
    "slack": "/slack/services/T000/B000/XXXX",
    "teams": "/teams/workflows/abc/triggers/manual/paths/invoke?sig=s1g",
    "webhook": "/webhook/milepost",
}
SECRETS = {"feishu": "feishu-secret", "dingtalk": "SECdingtalk-secret", "webhook": None}


@pytest.fixture
def make_channel(chat_server):
    """A channel pointing at the recording server, the server knowing its secret."""

    def make(kind: str, *, secret: str | None = "", path: str | None = None, **fields) -> Channel:
        path = path or PATHS[kind]
        if secret == "" and kind in SECRETS:
            secret = SECRETS[kind] or whsec()
        chat_server.secrets[path.split("?")[0]] = secret or ""
        fields.setdefault("events", ["overdue", "weekly_report"])
        return Channel.objects.create(
            name=fields.pop("name", f"{kind} group"),
            kind=kind,
            url=chat_server.url(path),
            secret=secret or "",
            **fields,
        )

    return make
