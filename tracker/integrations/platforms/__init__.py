"""One module per chat platform; `get_platform(kind)` gives the one a channel uses."""

from tracker.integrations.platforms.base import Message, OutgoingRequest, Platform, RateWindow
from tracker.integrations.platforms.dingtalk import DingTalk
from tracker.integrations.platforms.feishu import Feishu
from tracker.integrations.platforms.slack import Slack
from tracker.integrations.platforms.teams import Teams
from tracker.integrations.platforms.webhook import Webhook
from tracker.integrations.platforms.wecom import WeCom

PLATFORMS: dict[str, Platform] = {
    platform.kind: platform
    for platform in (Feishu(), DingTalk(), WeCom(), Slack(), Teams(), Webhook())
}


def get_platform(kind: str) -> Platform:
    return PLATFORMS[kind]


__all__ = ["PLATFORMS", "Message", "OutgoingRequest", "Platform", "RateWindow", "get_platform"]
