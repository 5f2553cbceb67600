from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "tracker.integrations"
    label = "integrations"
