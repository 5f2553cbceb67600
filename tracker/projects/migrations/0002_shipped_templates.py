"""Install the two templates shipped as data under tracker/projects/template_data/."""

import json
from datetime import time
from pathlib import Path

from django.db import migrations

DATA_DIR = Path(__file__).resolve().parent.parent / "template_data"


def load_templates(apps, schema_editor):
    ProjectTemplate = apps.get_model("projects", "ProjectTemplate")
    TemplateNode = apps.get_model("projects", "TemplateNode")
    for path in sorted(DATA_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        template, _created = ProjectTemplate.objects.update_or_create(
            code=data["code"],
            defaults={
                "name": data["name"],
                "kind": data["kind"],
                "description": data.get("description", ""),
            },
        )
        template.nodes.all().delete()
        TemplateNode.objects.bulk_create(
            TemplateNode(
                template=template,
                key=node["key"],
                title=node["title"],
                description=node.get("description", ""),
                department_code=node["department"],
                offset_days=node["offset_days"],
                time_of_day=time.fromisoformat(node["time"]),
                depends_on=node["depends_on"],
                position=position,
            )
            for position, node in enumerate(data["nodes"])
        )


class Migration(migrations.Migration):
    dependencies = [("projects", "0001_initial")]
    operations = [migrations.RunPython(load_templates, migrations.RunPython.noop)]
