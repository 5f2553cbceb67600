from django.apps import AppConfig


class MilestonesConfig(AppConfig):
    name = "tracker.milestones"
    label = "milestones"
