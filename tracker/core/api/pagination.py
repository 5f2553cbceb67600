from django.db.models import QuerySet
from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class ValuesPage:
    """A list's queryset, paginated as plain rows: the page is read with `values(*fields)`,
    and the count of the filtered queryset alone, without the joins that the listed columns
    of related rows (a department's code, an assignee's username) add to the page's query."""

    def __init__(self, queryset: QuerySet, fields: tuple[str, ...]) -> None:
        self.queryset = queryset
        self.fields = fields

    @property
    def ordered(self) -> bool:
        return self.queryset.ordered

    def count(self) -> int:
        return self.queryset.count()

    def __getitem__(self, index):
        return self.queryset.values(*self.fields)[index]
