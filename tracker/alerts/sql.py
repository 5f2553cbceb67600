"""Set-based writes the ORM has no verb for: INSERT … SELECT … ON CONFLICT DO NOTHING.

The SELECT is an ordinary queryset, compiled for the current database (PostgreSQL in
production, SQLite in `make run`), so the datetime and interval arithmetic stays the ORM's.
The two SQL expressions the databases spell differently are in VENDOR_SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from django.db import connection, models

from tracker.core.locks import lock_key, scan_guard_sql
from tracker.core.sqltemplate import AnyOf

CHUNK = 5000  # ids per statement, well under any database's parameter limit

VENDOR_SQL = {
    "postgresql": {
        "new_uuid": "gen_random_uuid()",
        "id_list": "jsonb_build_object('{key}', array_agg({column}))",
        "muted_list": (
            "jsonb_build_object('{key}', array_agg({column}), 'muted_project', max({project}))"
        ),
    },
    "sqlite": {
        "new_uuid": "lower(hex(randomblob(16)))",  # Django keeps UUIDs as 32 hex digits here
        "id_list": "json_object('{key}', json_group_array({column}))",
        "muted_list": (
            "json_object('{key}', json_group_array({column}), 'muted_project', max({project}))"
        ),
    },
}


def in_subquery(field: str, subquery: models.QuerySet) -> models.Q:
    """`field IN (subquery)`, spelled as an index condition on PostgreSQL (`AnyOf`): for a few
    ids the planner would otherwise hash the whole table against."""
    return models.Q(AnyOf(models.F(field), subquery))


class Names:
    """Quoted table and column names of a model for raw SQL, read from its `_meta`:
    `m = Names(Milestone)` gives `m.table` and `m.due_at`, `m.department` (its column,
    `department_id`)."""

    def __init__(self, model: type[models.Model]) -> None:
        self._meta = model._meta

    @property
    def table(self) -> str:
        return connection.ops.quote_name(self._meta.db_table)

    def __getattr__(self, field: str) -> str:
        return connection.ops.quote_name(self._meta.get_field(field).column)


def db_params(*values: tuple[models.Field, object]) -> tuple:
    """Values as parameters of raw SQL, prepared by their fields as the ORM would."""
    return tuple(field.get_db_prep_value(value, connection) for field, value in values)


def scan_params(*, now: datetime, scan_id: uuid.UUID) -> tuple:
    """A scan's `now` and `scan_id` as parameters of raw SQL."""
    return db_params((models.DateTimeField(), now), (models.UUIDField(), scan_id))


def vendor_sql(name: str, **parts: str) -> str:
    return VENDOR_SQL[connection.vendor][name].format(**parts)


def compile_queryset(queryset: models.QuerySet) -> tuple[str, tuple]:
    return queryset.query.get_compiler(using=queryset.db).as_sql()


def compile_where(queryset: models.QuerySet) -> tuple[str, tuple]:
    """The WHERE condition of a queryset over one table (no joins), with its parameters: for
    raw statements that must select exactly the rows the queryset does."""
    query = queryset.query
    # A lookup through a foreign key's column leaves its trimmed join behind, unreferenced.
    joined = [alias for alias in query.alias_map if query.alias_refcount.get(alias)]
    assert len(joined) <= 1, "compile_where takes a queryset over one table"
    sql, params = query.get_compiler(using=queryset.db).compile(query.where)
    return sql, tuple(params)


def execute(sql: str, params) -> list[tuple]:
    """Run one statement; its rows if it returns any."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def insert_from_select(
    model: type[models.Model],
    columns: Sequence[str],
    rows: models.QuerySet,
    *,
    conflict: Sequence[str] = (),
) -> int:
    """Insert the rows `rows` selects (one value per column, in order); rows that would break a
    unique constraint are skipped, duplicates among the selected rows included. Returns how
    many rows were inserted."""
    select_sql, params = compile_queryset(rows)
    quote = connection.ops.quote_name
    target = f"({', '.join(quote(c) for c in conflict)}) " if conflict else ""
    # SQLite needs the SELECT to end in a WHERE clause before ON CONFLICT; every caller filters.
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"{select_sql} ON CONFLICT {target}DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


@contextmanager
def without_nested_loops() -> Iterator[None]:
    """Plan the statements inside with hash joins (PostgreSQL), for statements that read rows
    the current transaction has just written.

    The planner's statistics predate those rows: it estimates one where there are thousands,
    and picks nested loops that probe an index, or rescan a CTE, once per row. Hash joins cost
    about the same for one row and several times less for thousands. Only inside a
    transaction, which ends the setting at the latest.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('enable_nestloop'), set_config('enable_nestloop', 'off', true)"
        )
        (previous, _off) = cursor.fetchone()
    yield  # on an error, rolling the transaction (or savepoint) back restores the setting
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('enable_nestloop', %s, true)", [previous])


def scan_begin(name: str | None, *, wait: bool) -> bool:
    """A scan's first statement, all of it until its transaction ends (PostgreSQL):

    - JIT off: the scan's statements have high cost estimates but touch few rows, and
      compiling them (~20 ms each) would cost more than running them;
    - the shared side of the node-deletion lock (`tracker.core.locks`), which guards the
      episodes and alerts it writes in place of foreign key checks;
    - with `name`, this kind of scan's own advisory lock: with `wait=False` answer False at
      once when another run holds it.

    SQLite (one writer at a time anyway) always answers True.
    """
    if connection.vendor != "postgresql":
        return True
    guard, params = scan_guard_sql()
    select = [guard, "set_config('jit', 'off', true)"]
    if name is not None:
        select.insert(0, f"pg_{'' if wait else 'try_'}advisory_xact_lock(%s)")
        params = [lock_key(name), *params]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(select)}", params)
        acquired = cursor.fetchone()[0]
    return name is None or wait or bool(acquired)
