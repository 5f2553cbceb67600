from __future__ import annotations

from allauth.socialaccount.providers.feishu.views import (
    FeishuOAuth2Adapter as AllauthFeishuAdapter,
)
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView

from tracker.accounts.sso.base import endpoint

FEISHU_OPEN_URL = "https://open.feishu.cn"


class FeishuOAuth2Adapter(AllauthFeishuAdapter):
    """allauth's, with every endpoint under the provider's ``OPEN_URL`` setting (Feishu's
    open.feishu.cn, Lark's open.larksuite.com)."""

    def _url(self, path: str) -> str:
        return endpoint(self.get_provider(), "OPEN_URL", FEISHU_OPEN_URL) + path

    @property
    def authorize_url(self) -> str:
        return self._url("/open-apis/authen/v1/index")

    @property
    def access_token_url(self) -> str:
        return self._url("/open-apis/authen/v1/access_token")

    @property
    def user_info_url(self) -> str:
        return self._url("/open-apis/authen/v1/user_info")

    def complete_login(self, request, app, token, **kwargs):
        try:
            return super().complete_login(request, app, token, **kwargs)
        except (KeyError, TypeError, AttributeError) as error:
            # An answer not shaped as Feishu documents it: a failed sign-in, not a 500.
            raise OAuth2Error(f"Unexpected Feishu answer ({error!r}).") from error

    def get_client(self, request, app):
        client = super().get_client(request, app)
        client.app_access_token_url = self._url("/open-apis/auth/v3/app_access_token/internal/")
        return client


oauth2_login = OAuth2LoginView.adapter_view(FeishuOAuth2Adapter)
oauth2_callback = OAuth2CallbackView.adapter_view(FeishuOAuth2Adapter)
