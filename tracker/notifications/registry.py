"""What the packages above plug into `notifications`: one value per key (an event's renderer,
a message kind's transport), registered from their `notifications.py` at start-up."""

from __future__ import annotations

from collections.abc import Callable


class Registry[T]:
    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def add(self, key: str, value: T) -> None:
        """Register `value` for `key`; registering it again is harmless, another one is a bug."""
        if self._items.get(key, value) != value:
            raise ValueError(f"Two {self.what} for {key!r}")
        self._items[key] = value

    def get(self, key: str) -> T | None:
        return self._items.get(key)

    def values(self) -> list[T]:
        return list(self._items.values())

    def decorator(self, *keys: str) -> Callable[[T], T]:
        """`@registry.decorator(key, …)` registers the decorated function for each key."""

        def register(value: T) -> T:
            for key in keys:
                self.add(key, value)
            return value

        return register
