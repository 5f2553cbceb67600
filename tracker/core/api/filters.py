"""The API's filter backend."""

from django_filters.rest_framework import DjangoFilterBackend


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, which builds and validates its FilterSet (a form and a field
    per filter) only when the request names one of its filters: a bare list page, the most
    common request, is the queryset as it is, which is what an empty FilterSet gives back.
    A parameter counts as naming a filter when it starts with the filter's name, so the
    suffixed parameters of range filters (`<name>_min`, `<name>_after`) count too."""

    @staticmethod
    def names_a_filter(request, filterset_class) -> bool:
        """Whether the request names one of `filterset_class`'s filters (None: no filters)."""
        if filterset_class is None:
            return False
        names = tuple(filterset_class.base_filters)
        return any(param.startswith(names) for param in request.query_params)

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not self.names_a_filter(request, filterset_class):
            return queryset
        return super().filter_queryset(request, queryset, view)
