"""Encryption at rest for credentials the app must read back (chat webhook URLs and secrets).

Keys are derived from `SECRET_KEY`, so there is no second key to keep. Values are encrypted
with the current key; `SECRET_KEY_FALLBACKS`, Django's own list for rotating the key, still
decrypts the values written under an old one until they are saved again.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "enc:v1:"  # marks a stored value as encrypted; anything else is a legacy plain value


class UndecryptableError(ImproperlyConfigured):
    """A stored value was encrypted under a key that is neither SECRET_KEY nor a fallback."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"milepost:stored-credentials"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@functools.cache
def _keys(secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_fernet(key) for key in (secret_key, *fallbacks)])


def _current() -> MultiFernet:
    return _keys(settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS))


def encrypt(value: str) -> str:
    """The stored form of `value`; the empty string stays empty (nothing to hide). A value that
    merely looks encrypted is encrypted too, so it reads back as typed."""
    if not value:
        return value
    return PREFIX + _current().encrypt(value.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored or not stored.startswith(PREFIX):
        return stored
    try:
        return _current().decrypt(stored.removeprefix(PREFIX).encode()).decode()
    except InvalidToken:
        raise UndecryptableError(
            "A stored credential cannot be decrypted: SECRET_KEY has changed. Put the previous "
            "key in SECRET_KEY_FALLBACKS."
        ) from None
