"""The one lock between the alert scans and the deletion of nodes (PostgreSQL advisory locks;
SQLite runs one writer at a time and needs none).

A scan writes episodes and alerts that refer to nodes, thousands at once, with no foreign key
checked by the database (`Alert.milestone`, `LatenessEpisode.milestone`). Locking each node it
reads, as a key check would, writes every one of their heap pages (a full-page image apiece
after a checkpoint: 80 MB of WAL for 10,000 nodes), so the scans hold this lock, shared, for
their whole transaction instead, and a service that deletes nodes takes it exclusively before
it reads them. A deletion therefore waits for the running scans to commit, then sees (and its
cascade deletes) what they wrote; a scan that starts meanwhile waits for the deletion to
commit, and its statements, each with a fresh snapshot, no longer see the deleted nodes. Scans
never wait for each other. Both sides take the lock first in their transaction, so it never
closes a cycle with row locks.
"""

from __future__ import annotations

import zlib

from django.db import connection

NODE_DELETION = "node-deletion"


def lock_key(name: str) -> int:
    return zlib.crc32(f"milepost:{name}".encode())


def node_deletion_lock() -> None:
    """Wait for the running alert scans to commit, and keep new ones waiting until the current
    transaction ends: for a service about to delete nodes (inside its transaction)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(NODE_DELETION)])


def scan_guard_sql() -> tuple[str, list[int]]:
    """The select-list item (and its parameter) a scan's first statement takes the shared side
    with, until its transaction ends (PostgreSQL)."""
    return "pg_advisory_xact_lock_shared(%s)", [lock_key(NODE_DELETION)]
