"""Model fields whose values are stored encrypted (`tracker.core.crypto`).

Python, forms and validation see the plain value, with its field's usual rules (a URL, a
maximum length); the column holds the encrypted form, which is longer, so it is `text`.
Nobody can filter on these fields: the same value encrypts differently every time.
"""

from django.db import models

from tracker.core.crypto import decrypt, encrypt


class EncryptedMixin:
    def get_internal_type(self) -> str:
        return "TextField"

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else value

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value


class EncryptedCharField(EncryptedMixin, models.CharField):
    pass


class EncryptedURLField(EncryptedMixin, models.URLField):
    pass
