from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime

from django.db.models import QuerySet
from rest_framework.pagination import PageNumberPagination

from tracker.core.sqltemplate import SqlTemplate


class StandardPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class ValuesPage:
    """A list's queryset, paginated as plain rows: the page is read with `values(*fields)`,
    and the count of the filtered queryset alone, without the joins that the listed columns
    of related rows (a department's code, an assignee's username) add to the page's query.

    `build(at)` gives the queryset as of `at` (the request's `now`). With a `shape`, a
    hashable naming everything else the queryset is built from (the reader's scope, the
    filters: the view's word), the page's and the count's SQL are compiled once per process
    and shape (`SqlTemplate`) and run with the request's `at`; without one, by the ORM."""

    def __init__(
        self,
        build: Callable[[datetime], QuerySet],
        fields: tuple[str, ...],
        *,
        at: datetime | None,
        shape: Hashable | None = None,
    ) -> None:
        self.build = build
        self.fields = fields
        self.at = at
        self.shape = shape
        self._queryset: QuerySet | None = None

    @property
    def queryset(self) -> QuerySet:
        if self._queryset is None:
            self._queryset = self.build(self.at)
        return self._queryset

    @property
    def ordered(self) -> bool:
        return self.queryset.ordered if self.shape is None else True  # a shape's is ordered

    def _template(self, part: Hashable, build: Callable[[datetime], QuerySet], count: bool):
        return SqlTemplate.get((self.shape, part, self.fields), build, count=count)

    def count(self) -> int:
        if self.shape is None:
            return self.queryset.count()
        template = self._template("count", self.build, count=True)
        return self.queryset.count() if template is None else template.count(self.at)

    def __getitem__(self, index):
        if self.shape is None or not isinstance(index, slice):
            return self.queryset.values(*self.fields)[index]
        template = self._template(
            (index.start, index.stop, index.step),
            lambda at: self.build(at).values(*self.fields)[index],
            count=False,
        )
        if template is None:
            return self.queryset.values(*self.fields)[index]
        return template.rows(self.at)
