from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class CodeOrIdRelatedField(serializers.RelatedField):
    """Accepts an object's id or its code (e.g. a template by 7 or "sale-campaign")."""

    default_error_messages = {
        "does_not_exist": "No {name} with id or code “{value}”.",
        "invalid": "Give an id or a code.",
    }

    def __init__(self, *, slug_field: str = "code", **kwargs):
        self.slug_field = slug_field
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, (int, str)) or data == "":
            self.fail("invalid")
        queryset = self.get_queryset()
        lookup = {"pk": int(data)} if str(data).isdigit() else {self.slug_field: data}
        obj = queryset.filter(**lookup).first()
        if obj is None:
            self.fail("does_not_exist", name=queryset.model._meta.verbose_name, value=data)
        return obj

    def to_representation(self, value):
        return getattr(value, self.slug_field)
