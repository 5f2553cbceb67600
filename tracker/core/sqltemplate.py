"""Querysets compiled to SQL once per process, run with each request's own values."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.lookups import In
from django.db.models.query import get_related_populators
from django.utils import timezone

# Two instants no request is at, for a template whose one argument is `now`.
AT_SENTINELS = (
    (datetime(1901, 2, 3, 4, 5, 6, 789012, tzinfo=UTC),),
    (datetime(1902, 3, 4, 5, 6, 7, 890123, tzinfo=UTC),),
)


# Two lists of ids no row has (ids are positive), for a template whose one argument is the ids
# of an `AnyOf`.
IDS_SENTINELS = (([-1, -2],), ([-3, -4],))


class AnyOf(In):
    """`lhs IN (…)` spelled `lhs = ANY(…)` on PostgreSQL; elsewhere it is `In`.

    - Of values: one array parameter (`lhs = ANY(%s)`), so one template serves every number of
      values (`IDS_SENTINELS`) and psycopg reuses its parsing of the statement (it parses
      afresh every statement of more than 50 parameters).
    - Of a subquery: `lhs = ANY(ARRAY(subquery))`, which the subquery runs once for and which is
      an index condition, so it can OR with other ranges into one bitmap scan where `IN
      (subquery)` is a filter over every row."""

    def as_postgresql(self, compiler, connection) -> tuple[str, list]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if self.rhs_is_direct_value():
            return f"{lhs} = ANY(%s)", [*lhs_params, list(self.rhs)]
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY(ARRAY{rhs})", [*lhs_params, *rhs_params]


class SqlTemplate:
    """A queryset's SQL and parameters, compiled once per process and key, with the
    positions of the parameters that are its arguments: each run sends the same SQL with
    the request's own arguments in those positions, sparing the ORM's building and compiling
    (several milliseconds a request for the list's flags).

    `build(*arguments)` gives the queryset. It is compiled twice, with each of two sets of
    sentinel arguments (values no request has); an argument's positions are where the one
    compile has its first sentinel and the other its second, and everything else (the SQL
    text, every other parameter) must be the same, or nothing is kept. So only the arguments
    vary: whatever else the queryset is built from (the reader's scope, the filters a request
    names, a page's slice) must be in the key; the current time zone always is. A queryset
    that cannot be templated (a value derived from an argument, not the argument itself; an
    empty result) is not kept, and `get` gives None: the caller runs it by the ORM.

    A template of a model queryset (not `values()`) also gives its rows as the model instances
    the queryset would (`objects`: `select_related` rows included, by the ORM's own
    populators)."""

    MAX_KEYS = 256
    _kept: dict[Hashable, SqlTemplate | None] = {}

    def __init__(self, alias, sql, params, slots, names, converters, compiler) -> None:
        self.alias = alias
        self.sql = sql
        self.params = params
        self.slots = slots  # (parameter position, argument index)
        self.names = names
        self.converters = converters
        # What ModelIterable builds instances from (None for a `values()` queryset).
        self.klass_info = compiler.klass_info
        self.select = compiler.select
        self.annotation_col_map = compiler.annotation_col_map

    @classmethod
    def clear(cls) -> None:
        cls._kept.clear()

    @classmethod
    def get(
        cls,
        key: Hashable,
        build: Callable[..., QuerySet],
        *,
        sentinels: tuple[tuple, tuple] = AT_SENTINELS,
        count: bool = False,
    ) -> SqlTemplate | None:
        key = (key, count, timezone.get_current_timezone_name())
        try:
            return cls._kept[key]
        except KeyError:
            pass
        template = cls._compile(build, sentinels, count=count)
        if len(cls._kept) >= cls.MAX_KEYS:
            cls._kept.clear()
        cls._kept[key] = template
        return template

    @classmethod
    def _compile(cls, build, sentinels, *, count: bool) -> SqlTemplate | None:
        compiled = []
        for arguments in sentinels:
            queryset = build(*arguments)
            if count:
                queryset = queryset.order_by().values("pk")
            compiler = queryset.query.chain().get_compiler(queryset.db)
            try:
                sql, params = compiler.as_sql()
            except EmptyResultSet:
                return None
            if count:
                # Any filtered queryset's count, joins and DISTINCT included.
                sql = f"SELECT COUNT(*) FROM ({sql}) counted"
            compiled.append((queryset.db, compiler, sql, tuple(params)))
        (alias, compiler, sql_a, params_a), (_alias, _compiler, sql_b, params_b) = compiled
        if sql_a != sql_b or len(params_a) != len(params_b):
            return None
        first, second = sentinels
        slots = []
        for position, (a, b) in enumerate(zip(params_a, params_b, strict=True)):
            index = next((i for i, value in enumerate(first) if value == a), None)
            if index is not None and second[index] == b:
                slots.append((position, index))
            elif a != b or index is not None or b in second:
                return None  # a value derived from an argument, not the argument itself
        query = compiler.query
        names = [*query.extra_select, *query.values_select, *query.annotation_select]
        select = [column for column, _sql, _alias in compiler.select]
        converters = compiler.get_converters(select)
        return cls(alias, sql_a, params_a, tuple(slots), names, converters, compiler)

    def bind(self, *arguments: Any) -> tuple[str, tuple]:
        """The SQL and its parameters with `arguments` in their places: for a statement that
        embeds this one."""
        params = list(self.params)
        for position, index in self.slots:
            params[position] = arguments[index]
        return self.sql, tuple(params)

    def tuples(self, *arguments: Any) -> list:
        """The rows as `values_list()` gives them (lists or tuples)."""
        sql, params = self.bind(*arguments)
        with connections[self.alias].cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return self._convert(rows) if self.converters else rows

    def rows(self, *arguments: Any) -> list[dict]:
        """The rows as `values()` gives them."""
        names = self.names
        return [dict(zip(names, row, strict=True)) for row in self.tuples(*arguments)]

    def objects(self, *arguments: Any) -> list[Model]:
        """The rows as the model queryset gives them: what `ModelIterable` does with them."""
        klass_info, select, alias = self.klass_info, self.select, self.alias
        model = klass_info["model"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        names = [column.target.attname for column, _sql, _alias in select[start:end]]
        populators = get_related_populators(klass_info, select, alias)
        found = []
        for row in self.tuples(*arguments):
            obj = model.from_db(alias, names, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for name, position in self.annotation_col_map.items():
                setattr(obj, name, row[position])
            found.append(obj)
        return found

    def count(self, *arguments: Any) -> int:
        (row,) = self.tuples(*arguments)
        return row[0]

    def _convert(self, rows: list[tuple]) -> list[list]:
        """What the compiler's `apply_converters` does, on this thread's connection."""
        connection = connections[self.alias]
        converted = []
        for row in rows:
            row = list(row)
            for position, (functions, expression) in self.converters.items():
                value = row[position]
                for function in functions:
                    value = function(value, expression, connection)
                row[position] = value
            converted.append(row)
        return converted
