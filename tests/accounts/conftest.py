from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from django.core.cache import cache

from tests.accounts.ssoserver import CLIENTS, WECOM_AGENT_ID, SsoServer
from tests.browser.conftest import browser, open_context, screenshot  # noqa: F401 (fixtures)


@pytest.fixture(scope="session")
def _sso_server_process():
    server = SsoServer().start()
    yield server
    server.stop()


def providers_at(server: SsoServer) -> dict:
    """SOCIALACCOUNT_PROVIDERS as config/settings.py builds it from the environment, with every
    provider configured and its endpoints on the loopback server."""
    return {
        "feishu": {
            "APPS": [{"client_id": CLIENTS["feishu"][0], "secret": CLIENTS["feishu"][1]}],
            "OPEN_URL": server.url("/feishu"),
        },
        "dingtalk": {
            "APPS": [{"client_id": CLIENTS["dingtalk"][0], "secret": CLIENTS["dingtalk"][1]}],
            "AUTH_PARAMS": {"prompt": "consent"},
            "LOGIN_URL": server.url("/dingtalk-login"),
            "API_URL": server.url("/dingtalk-api"),
            "OAPI_URL": server.url("/dingtalk-oapi"),
        },
        "wecom": {
            "APPS": [
                {
                    "client_id": CLIENTS["wecom"][0],
                    "secret": CLIENTS["wecom"][1],
                    "settings": {"agent_id": WECOM_AGENT_ID},
                }
            ],
            "LOGIN_URL": server.url("/wecom-login"),
            "API_URL": server.url("/wecom-api"),
        },
        "openid_connect": {
            "APPS": [
                {
                    "provider_id": "idp",
                    "name": "Company SSO",
                    "client_id": CLIENTS["oidc"][0],
                    "secret": CLIENTS["oidc"][1],
                    "settings": {"server_url": server.issuer},
                }
            ],
            "OAUTH_PKCE_ENABLED": True,
        },
    }


@pytest.fixture
def sso(_sso_server_process, settings):
    """The loopback provider server, emptied, with every provider pointing at it."""
    _sso_server_process.reset()
    cache.clear()
    settings.SOCIALACCOUNT_PROVIDERS = providers_at(_sso_server_process)
    settings.SSO_SIGNUP_DOMAINS = []
    settings.SSO_TRUSTED_EMAIL_PROVIDERS = []
    return _sso_server_process


LOGIN_PATHS = {
    "oidc": "/accounts/oidc/idp/login/",
    "feishu": "/accounts/feishu/login/",
    "dingtalk": "/accounts/dingtalk/login/",
    "wecom": "/accounts/wecom/login/",
}


def sign_in(client, server: SsoServer, platform: str):
    """The browser's part: press the button (POST), follow the redirect to the provider,
    which approves at once as `server.people[platform]`, and come back to the callback."""
    response = client.post(LOGIN_PATHS[platform])
    assert response.status_code == 302, response.content
    authorize = response["Location"]
    assert authorize.startswith(server.url()), authorize
    answer = httpx.get(authorize, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert back.netloc == "testserver", back
    return client.get(f"{back.path}?{back.query}")
