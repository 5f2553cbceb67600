"""Positions become unique per lane. Lanes that already hold two cards at one position (racing
creates did that) are renumbered first, 0, 1, 2, … in the order the board showed them
(position, due date, id); lanes without a duplicate keep their numbers."""

from django.db import migrations, models
from django.db.models import Count


def renumber_duplicate_lanes(apps, schema_editor):
    Milestone = apps.get_model("milestones", "Milestone")
    lanes = set(
        Milestone.objects.order_by()
        .values("project_id", "department_id", "position")
        .annotate(cards=Count("id"))
        .filter(cards__gt=1)
        .values_list("project_id", "department_id")
    )
    for project_id, department_id in sorted(lanes):
        cards = list(
            Milestone.objects.filter(project_id=project_id, department_id=department_id).order_by(
                "position", "due_at", "id"
            )
        )
        for index, card in enumerate(cards):
            card.position = index
        Milestone.objects.bulk_update(cards, ["position"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("milestones", "0002_lean_indexes"),
    ]

    operations = [
        migrations.RunPython(renumber_duplicate_lanes, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="milestone",
            constraint=models.UniqueConstraint(
                fields=("project", "department", "position"),
                name="milestones_lane_position_unique",
            ),
        ),
    ]
