"""allauth's provider registry imports this module of every installed app."""

from tracker.accounts.sso.dingtalk.provider import DingTalkProvider
from tracker.accounts.sso.feishu.provider import FeishuProvider
from tracker.accounts.sso.wecom.provider import WeComProvider

provider_classes = [FeishuProvider, DingTalkProvider, WeComProvider]
