from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for `make run` (`manage.py seed_demo`): the top layer, it uses every service."""

    name = "tracker.demo"
    label = "demo"
