"""Settings come from the environment; production values pass `check --deploy` cleanly."""

import os
import subprocess

import pytest

from tests.alerts.support import manage_py

PRODUCTION = {
    "SECRET_KEY": "k3y-" + "x9Q" * 20,
    "DEBUG": "false",
    "ALLOWED_HOSTS": "milepost.example.com",
    "SITE_URL": "https://milepost.example.com",
    "EMAIL_HOST": "smtp.example.com",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # Only what the process would have in production: no test-run leftovers such as
    # DJANGO_ALLOW_ASYNC_UNSAFE (set by the browser tests), which `check --deploy` flags.
    leftovers = {*PRODUCTION, "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environment = {k: v for k, v in os.environ.items() if k not in leftovers}
    return manage_py(*args, env={**environment, **env})


def test_check_deploy_is_clean_with_production_values():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_the_development_secret_key():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode != 0 and "security.W009" in result.stderr + result.stdout


@pytest.mark.parametrize(("name", "value"), [("DEBUG", "perhaps"), ("EMAIL_PORT", "twenty-five")])
def test_bad_setting_values_fail_with_one_clear_line(name, value):
    result = manage("check", **{**PRODUCTION, name: value})
    assert result.returncode != 0
    assert f"{name} must be" in result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"FEISHU_APP_ID": "cli_1"}, "FEISHU_APP_SECRET"),
        ({"DINGTALK_CLIENT_SECRET": "s"}, "DINGTALK_CLIENT_ID"),
        ({"WECOM_CORP_ID": "ww1", "WECOM_SECRET": "s"}, "WECOM_AGENT_ID"),
        ({"OIDC_CLIENT_ID": "c", "OIDC_CLIENT_SECRET": "s"}, "OIDC_ISSUER_URL"),
    ],
)
def test_a_half_configured_sign_in_provider_fails_with_one_clear_line(env, missing):
    result = manage("check", **{**PRODUCTION, **env})
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert f"ImproperlyConfigured: {missing} must be set with" in last


def test_sign_in_providers_switch_on_from_the_environment():
    env = {
        **PRODUCTION,
        "FEISHU_APP_ID": "cli_1",
        "FEISHU_APP_SECRET": "s",
        "OIDC_ISSUER_URL": "https://sso.example.com/realms/acme",
        "OIDC_CLIENT_ID": "milepost",
        "OIDC_CLIENT_SECRET": "s",
        "OIDC_NAME": "Acme SSO",
    }
    code = (
        "from django.conf import settings;"
        "print(sorted((p, a.get('name', p)) for p, c in settings.SOCIALACCOUNT_PROVIDERS.items()"
        " for a in c['APPS']))"
    )
    result = manage("shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip().splitlines()[-1]
        == "[('feishu', 'feishu'), ('openid_connect', 'Acme SSO')]"
    )
    result = manage("shell", "-c", code, **{k: v for k, v in PRODUCTION.items()})
    assert result.stdout.strip().splitlines()[-1] == "[]"
