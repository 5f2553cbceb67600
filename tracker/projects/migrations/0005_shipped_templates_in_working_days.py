"""The shipped templates count their offsets in working days (a node never lands on a weekend
or a public holiday). Their nodes take the shipped working-day offsets; a node an admin added
to them is converted at five working days a week."""

import json
import math
from pathlib import Path

from django.db import migrations

DATA_DIR = Path(__file__).resolve().parent.parent / "template_data"


def to_working_days(offset: int) -> int:
    if offset == 0:
        return 0
    return int(math.copysign(max(1, math.floor(abs(offset) * 5 / 7 + 0.5)), offset))


def convert(apps, schema_editor):
    ProjectTemplate = apps.get_model("projects", "ProjectTemplate")
    TemplateNode = apps.get_model("projects", "TemplateNode")
    for path in sorted(DATA_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        template = ProjectTemplate.objects.filter(
            code=data["code"], offset_unit="calendar_days"
        ).first()
        if template is None:
            continue
        shipped = {node["key"]: node["offset_days"] for node in data["nodes"]}
        nodes = list(template.nodes.all())
        for node in nodes:
            node.offset_days = shipped.get(node.key, to_working_days(node.offset_days))
        TemplateNode.objects.bulk_update(nodes, ["offset_days"])
        template.offset_unit = data["offset_unit"]
        template.roll_rule = data["roll_rule"]
        template.save(update_fields=["offset_unit", "roll_rule"])


class Migration(migrations.Migration):
    dependencies = [("projects", "0004_working_calendar")]
    operations = [migrations.RunPython(convert, migrations.RunPython.noop)]
