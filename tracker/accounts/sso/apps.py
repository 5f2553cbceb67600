from django.apps import AppConfig


class SsoConfig(AppConfig):
    """Installed so that allauth's provider registry finds `provider.py`."""

    name = "tracker.accounts.sso"
    label = "accounts_sso"
    verbose_name = "Single sign-on"
