"""Full export and restore of Milepost's data: a versioned, documented zip archive.

Layout (format `milepost-archive`, version 1; docs/deploy.md describes it for operators):

    manifest.json                       what is inside, and how to check it
    tables/<app>.<model>.jsonl          one JSON object per row, columns by their database
                                        names (`project_id`), ordered by primary key
    secrets/<app>.<model>.jsonl.enc     with --with-secrets only: the credential columns of
                                        that table (`{"pk": …, "url": …}` per row), or a whole
                                        table whose rows are credentials, encrypted with a key
                                        derived from a passphrase (scrypt, then Fernet)

Each line is canonical JSON (sorted keys, full-precision ISO times, decimals as strings), so
`sha256` in the manifest is a checksum of the table's content: `import_all` recomputes it from
the database after writing and rolls back unless every table matches.

References to Django's content types and permissions are stored by natural key
(`["milestones", "milestone"]`), as their ids depend on the database they were made in.
Without secrets, users come back with unusable passwords, channels paused with a placeholder
URL that says what to do, and API tokens and calendar feeds (whose rows are credentials) are
left out.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import io
import json
import os
import uuid
import zipfile
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from django.apps import apps
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from django.utils.duration import duration_iso_string

FORMAT = "milepost-archive"
VERSION = 1
# Apps whose tables an archive holds: Milepost's own, the beat schedule, the admin's log and
# Django's groups (content types and permissions come from `migrate` and are referenced only).
APPS = [
    "auth",
    "admin",
    "accounts",
    "workcal",
    "projects",
    "milestones",
    "reports",
    "alerts",
    "notifications",
    "integrations",
    "django_celery_beat",
]
# Operational state, not data: rebuilt by the running system.
LEFT_OUT = {"auth.permission", "integrations.sendwindow", "ops.heartbeat"}
# Tables that `migrate` fills (shipped templates, the default schedule, the deviation reasons):
# replaced on import.
SHIPPED = {"projects", "django_celery_beat"}
SHIPPED_MODELS = {"milestones.deviationreason"}


def _shipped(model) -> bool:
    return model._meta.app_label in SHIPPED or model._meta.label_lower in SHIPPED_MODELS


# Credential columns, and what they become in a restore without secrets.
SECRET_COLUMNS: dict[str, dict[str, object]] = {
    "accounts.user": {"password": UNUSABLE_PASSWORD_PREFIX + "restored-without-secrets"},
    "notifications.channel": {"url": "https://re-enter-url-after-restore.invalid/", "secret": ""},
}
SECRET_TABLES = {"accounts.apitoken", "integrations.calendarfeed"}
PAUSED_CHANNEL_TABLE = "notifications.channel"
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
MIN_PASSPHRASE = 12


class ArchiveError(Exception):
    """The archive or the target database is not what a restore needs; nothing was written."""


# Rows ---------------------------------------------------------------------------------------


def _default(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return duration_iso_string(value)
    if isinstance(value, decimal.Decimal | uuid.UUID | zoneinfo.ZoneInfo):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"cannot archive {type(value).__name__}")


def canonical(row: dict) -> bytes:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, default=_default).encode() + b"\n"


def archived_models() -> list[type[models.Model]]:
    found = []
    for model in apps.get_models(include_auto_created=True):
        label = model._meta.label_lower
        meta = model._meta
        if meta.app_label in APPS and label not in LEFT_OUT and meta.managed and not meta.proxy:
            found.append(model)
    return sorted(found, key=lambda m: m._meta.label_lower)


@dataclass
class NaturalKeys:
    """Content types and permissions by natural key, both ways."""

    content_types: dict[int, tuple[str, ...]] = field(default_factory=dict)
    permissions: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> NaturalKeys:
        return cls(
            {
                pk: (app, model)
                for pk, app, model in ContentType.objects.values_list("pk", "app_label", "model")
            },
            {
                pk: (app, model, codename)
                for pk, app, model, codename in Permission.objects.values_list(
                    "pk", "content_type__app_label", "content_type__model", "codename"
                )
            },
        )

    def target(self, column: models.Field) -> dict[int, tuple[str, ...]] | None:
        related = getattr(column, "related_model", None)
        if related is ContentType:
            return self.content_types
        if related is Permission:
            return self.permissions
        return None

    def reverse(self, column: models.Field) -> dict[tuple[str, ...], int] | None:
        lookup = self.target(column)
        return None if lookup is None else {key: pk for pk, key in lookup.items()}


def _columns(model: type[models.Model]) -> list[models.Field]:
    return list(model._meta.concrete_fields)


def table_rows(
    model: type[models.Model], keys: NaturalKeys, *, leave_out: Iterable[str] = ()
) -> Iterator[dict]:
    """The rows of `model` as archived: columns by attname, natural keys for content types
    and permissions, ordered by primary key."""
    columns = [c for c in _columns(model) if c.attname not in set(leave_out)]
    names = [c.attname for c in columns]
    maps = [keys.target(c) for c in columns]
    rows = model._base_manager.order_by("pk").values_list(*names).iterator(chunk_size=2000)
    for values in rows:
        yield {
            name: (list(lookup[value]) if lookup is not None and value is not None else value)
            for name, lookup, value in zip(names, maps, values, strict=True)
        }


def table_digest(
    model: type[models.Model], keys: NaturalKeys, leave_out: Iterable[str]
) -> tuple[int, str]:
    digest, count = hashlib.sha256(), 0
    for row in table_rows(model, keys, leave_out=leave_out):
        digest.update(canonical(row))
        count += 1
    return count, digest.hexdigest()


# Passphrase encryption --------------------------------------------------------------------


def _fernet(passphrase: str, salt: bytes, kdf: dict[str, int]) -> Fernet:
    key = Scrypt(salt=salt, length=32, **kdf).derive(passphrase.encode())
    return Fernet(base64.urlsafe_b64encode(key))


# Export -----------------------------------------------------------------------------------


@dataclass
class ExportResult:
    tables: int
    rows: int
    with_secrets: bool


def applied_migrations() -> list[str]:
    applied = MigrationRecorder(connection).applied_migrations()
    return sorted(f"{app}.{name}" for app, name in applied if app in APPS or app == "ops")


def archive_export(*, path: Path, passphrase: str | None = None) -> ExportResult:
    """Write every archived table to `path` from one consistent snapshot (a repeatable-read
    transaction on PostgreSQL). With a passphrase, credentials go in, encrypted."""
    if passphrase is not None and len(passphrase) < MIN_PASSPHRASE:
        raise ArchiveError(f"The passphrase needs at least {MIN_PASSPHRASE} characters.")
    salt = os.urandom(16)
    fernet = _fernet(passphrase, salt, SCRYPT) if passphrase else None
    tables, left_out, total = [], dict.fromkeys(sorted(LEFT_OUT), "operational state"), 0
    partial = path.with_name(path.name + ".partial")
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    try:
        with transaction.atomic(), zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            if snapshot:
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            keys = NaturalKeys.load()
            for model in archived_models():
                label = model._meta.label_lower
                if label in SECRET_TABLES and fernet is None:
                    left_out[label] = "its rows are credentials: exported with --with-secrets only"
                    continue
                secret_columns = list(SECRET_COLUMNS.get(label, {}))
                pk = model._meta.pk.attname
                data, secrets, digest, count = io.BytesIO(), io.BytesIO(), hashlib.sha256(), 0
                for row in table_rows(model, keys):
                    hidden = {name: row.pop(name) for name in secret_columns}
                    line = canonical(row)
                    data.write(line)
                    digest.update(line)
                    count += 1
                    if fernet is not None and hidden:
                        secrets.write(canonical({"pk": row[pk], **hidden}))
                entry: dict[str, object] = {
                    "label": label,
                    "table": model._meta.db_table,
                    "columns": [
                        c.attname for c in _columns(model) if c.attname not in secret_columns
                    ],
                    "rows": count,
                    "sha256": digest.hexdigest(),
                }
                if label in SECRET_TABLES:
                    entry.update(file=f"secrets/{label}.jsonl.enc", encrypted=True)
                    archive.writestr(entry["file"], fernet.encrypt(data.getvalue()))
                else:
                    entry["file"] = f"tables/{label}.jsonl"
                    archive.writestr(entry["file"], data.getvalue())
                if secret_columns:
                    entry["secret_columns"] = secret_columns
                    if fernet is not None:
                        entry["secret_file"] = f"secrets/{label}.jsonl.enc"
                        archive.writestr(entry["secret_file"], fernet.encrypt(secrets.getvalue()))
                tables.append(entry)
                total += count
            manifest = {
                "format": FORMAT,
                "version": VERSION,
                "created_at": timezone.now().isoformat(),
                "migrations": applied_migrations(),
                "secrets": (
                    {
                        "included": True,
                        "cipher": "fernet",
                        "kdf": {
                            "name": "scrypt",
                            "salt": base64.b64encode(salt).decode(),
                            **SCRYPT,
                        },
                    }
                    if fernet
                    else {"included": False}
                ),
                "tables": tables,
                "left_out": left_out,
            }
            archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    return ExportResult(len(tables), total, fernet is not None)


# Import -----------------------------------------------------------------------------------


@dataclass
class ImportResult:
    tables: int
    rows: int
    with_secrets: bool
    paused_channels: list[str]


def _read_manifest(archive: zipfile.ZipFile) -> dict:
    try:
        manifest = json.loads(archive.read("manifest.json"))
    except (KeyError, ValueError) as error:
        raise ArchiveError("Not a Milepost archive: no readable manifest.json.") from error
    if manifest.get("format") != FORMAT:
        raise ArchiveError("Not a Milepost archive (wrong format name in manifest.json).")
    if manifest.get("version") != VERSION:
        raise ArchiveError(
            f"Archive format version {manifest.get('version')} is not {VERSION}: import it "
            "with the Milepost release that wrote it."
        )
    return manifest


def read_manifest(path: Path) -> dict:
    try:
        with zipfile.ZipFile(path) as archive:
            return _read_manifest(archive)
    except (OSError, zipfile.BadZipFile) as error:
        raise ArchiveError(f"Cannot read {path}: {error}") from error


def _check_target(manifest: dict, models_by_label: dict[str, type[models.Model]]) -> None:
    here = set(applied_migrations())
    there = set(manifest["migrations"])
    if here != there:
        missing, extra = sorted(there - here), sorted(here - there)
        raise ArchiveError(
            "The database's migrations differ from the archive's "
            f"(archive only: {', '.join(missing[:5]) or 'none'}; database only: "
            f"{', '.join(extra[:5]) or 'none'}). Migrate an empty database to the archive's "
            "state, import, then migrate forward."
        )
    unknown = [t["label"] for t in manifest["tables"] if t["label"] not in models_by_label]
    if unknown:
        raise ArchiveError(f"Tables unknown to this code: {', '.join(unknown)}.")
    busy = [
        label
        for label, model in models_by_label.items()
        if not _shipped(model) and model._base_manager.exists()
    ]
    if busy:
        raise ArchiveError(
            "The database is not empty (rows in " + ", ".join(busy[:6]) + "): restore into a "
            "new database that has only been migrated."
        )


def _decode(column: models.Field, value: object, reverse: dict | None) -> object:
    if value is None:
        return None
    if reverse is not None:
        try:
            return reverse[tuple(value)]
        except KeyError:
            raise ArchiveError(f"{column}: unknown {value!r} in this database.") from None
    if isinstance(column, models.JSONField):
        return value
    if isinstance(column, models.BinaryField):
        return base64.b64decode(value)
    return column.to_python(value)


def _insert(model: type[models.Model], rows: list[dict], keys: NaturalKeys) -> None:
    columns = _columns(model)
    reverse = [keys.reverse(c) for c in columns]
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c.column) for c in columns)
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
    params = [
        [
            c.get_db_prep_save(_decode(c, row[c.attname], r), connection)
            for c, r in zip(columns, reverse, strict=True)
        ]
        for row in rows
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(params), 1000):
            cursor.executemany(sql, params[start : start + 1000])


def _lines(blob: bytes) -> list[dict]:
    return [json.loads(line) for line in blob.splitlines() if line]


def archive_import(*, path: Path, passphrase: str | None = None) -> ImportResult:
    """Restore an archive into an empty, migrated database, in one transaction: every table's
    checksum is verified against the manifest before it commits."""
    models_by_label = {m._meta.label_lower: m for m in archived_models()}
    with zipfile.ZipFile(path) as archive, transaction.atomic():
        manifest = _read_manifest(archive)
        secrets_meta = manifest["secrets"]
        fernet = None
        if secrets_meta["included"]:
            if not passphrase:
                raise ArchiveError("This archive holds encrypted secrets: give its passphrase.")
            kdf = {k: secrets_meta["kdf"][k] for k in ("n", "r", "p")}
            fernet = _fernet(passphrase, base64.b64decode(secrets_meta["kdf"]["salt"]), kdf)

        def decrypt(name: str) -> bytes:
            try:
                return fernet.decrypt(archive.read(name))
            except InvalidToken:
                raise ArchiveError("Wrong passphrase (or a damaged archive).") from None

        _check_target(manifest, models_by_label)
        with connection.cursor() as cursor:
            for model in models_by_label.values():
                if _shipped(model):
                    cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
        keys = NaturalKeys.load()
        total, restored = 0, []
        for entry in manifest["tables"]:
            model = models_by_label[entry["label"]]
            blob = decrypt(entry["file"]) if entry.get("encrypted") else archive.read(entry["file"])
            if hashlib.sha256(blob).hexdigest() != entry["sha256"]:
                raise ArchiveError(f"{entry['file']}: checksum mismatch, the archive is damaged.")
            rows = _lines(blob)
            secret_columns = entry.get("secret_columns", [])
            if secret_columns:
                pk = model._meta.pk.attname
                if fernet is not None:
                    hidden = {r.pop("pk"): r for r in _lines(decrypt(entry["secret_file"]))}
                    for row in rows:
                        row.update(hidden[row[pk]])
                else:
                    for row in rows:
                        row.update(SECRET_COLUMNS[entry["label"]])
            _insert(model, rows, keys)
            restored.append((model, entry))
            total += len(rows)
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(
                no_style(), [m for m, _ in restored]
            ):
                cursor.execute(statement)
        keys = NaturalKeys.load()
        for model, entry in restored:
            count, digest = table_digest(model, keys, entry.get("secret_columns", []))
            if (count, digest) != (entry["rows"], entry["sha256"]):
                raise ArchiveError(f"{entry['label']}: restored rows differ from the archive.")
        paused = []
        if fernet is None and PAUSED_CHANNEL_TABLE in models_by_label:
            channels = models_by_label[PAUSED_CHANNEL_TABLE]._base_manager
            paused = list(channels.order_by("name").values_list("name", flat=True))
            channels.update(is_active=False)
    return ImportResult(len(restored), total, fernet is not None, paused)
