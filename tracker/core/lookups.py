"""`json_field__includes=value`: the JSON array holds `value`, on both databases.

PostgreSQL answers it with `@>` (Django's `contains` on a one-element array); SQLite has no
`contains` for JSON, so it looks through the array with `json_each`.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Lookup
from django.db.models.fields.json import DataContains


@models.JSONField.register_lookup
class Includes(Lookup):
    lookup_name = "includes"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        return compiler.compile(DataContains(self.lhs, [self.rhs]))  # its own SQL per database

    def as_sqlite(self, compiler, connection):
        lhs, params = compiler.compile(self.lhs)
        sql = f"EXISTS (SELECT 1 FROM json_each({lhs}) WHERE json_each.value = %s)"
        return sql, (*params, self.rhs)
