"""Publishing the marts for readers (BI tools, analysts, the DuckDB CLI), atomically, after the gate.

Why: DuckDB allows one writer process *or* many readers per file. A BI tool holding even a
read-only connection to the file the pipeline writes makes the next ``dbt build`` fail on the file
lock, and a reader of the live file could see a half-built night. So the pipeline and its readers
use different files (``SALESOPS_HOME`` layout):

======================================  ===================================================
``<home>/work/warehouse.duckdb``        the pipeline's own state: ``raw``, ``ops``, ``config``,
                                        ``staging``, ``intermediate``, ``marts``. Only the
                                        pipeline opens it (one run at a time: ``work/run.lock``).
``<home>/warehouse.duckdb``             the **published** marts (schema ``marts`` + table
                                        ``main.salesops_publish``) for readers; open it read-only.
``<home>/marts/<mart>.parquet``         one Parquet file per mart, same night as the DuckDB file.
``<home>/marts/_manifest.json``         run id, run date, publish time and row count per mart.
``<home>/marts/dbt_docs.html``          the dbt docs site of that night, one offline HTML file
                                        (:mod:`flows.warehouse.dbt_docs`).
``<home>/published/<version>/``         where those live: one directory per publish; the paths
                                        above are symlinks through ``published/current``.
======================================  ===================================================

:func:`publish_marts` runs only after the marts gate passed. It copies every table and view of
``marts`` from the working file into a new version directory (a DuckDB file and Parquet files),
then swaps the ``current`` link with :func:`os.replace`: the DuckDB file and the Parquet files of
one night switch together, in one atomic step (:mod:`flows.warehouse.versions`). A reader that has
the old file open keeps reading its snapshot; the next reader that opens the path sees the new
night. A failed run, a failed gate or a killed publish never reaches the swap, so readers keep the
last good version, and the next start removes what a killed publish left behind. Design and reader
guidance: docs/architecture-publish.md. (Windows: not supported.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from flows.config.settings import Settings
from flows.warehouse import duckdb_limits
from flows.warehouse.dbt_docs import DOCS_FILE
from flows.warehouse.versions import StagedVersion, clean_leftovers

log = logging.getLogger(__name__)

PUBLISHED_SCHEMA = "marts"
PUBLISH_INFO_TABLE = "main.salesops_publish"
# The storage format of the published file. DuckDB 2 writes a format no DuckDB 1.x opens ("database file
# with version number ...: can only read versions between 64 and 68"), and the DuckDB CLI from PyPI and
# the DuckDB that BI tools bundle are 1.x. v1.0.0 (file version 64) is read by every DuckDB from 1.0 on;
# it costs the file some of the newer compression (~10% larger on the demo's marts).
PUBLISHED_STORAGE_VERSION = "v1.0.0"


@dataclass
class PublishResult:
    run_id: str
    run_date: date | None
    published_at: datetime
    database: Path
    parquet_dir: Path
    tables: dict[str, int] = field(default_factory=dict)  # mart -> rows

    @property
    def parquet_files(self) -> dict[str, Path]:
        return {name: self.parquet_dir / f"{name}.parquet" for name in self.tables}


def publish_marts(
    settings: Settings, *, run_id: str, run_date: date | None = None, docs: Path | None = None
) -> PublishResult:
    """Copy the working file's ``marts`` into a new published version and make it the live one;
    ``docs`` (the static dbt docs page) is published with them as ``dbt_docs.html``.

    The caller holds the run lock (leftovers of killed publishes are removed first) and no other
    connection to the working file in this process with a different configuration (the
    same-process DuckDB rule); this opens it with the default config.
    """
    home = settings.home_dir
    clean_leftovers(home)
    staged = StagedVersion(home, _version_name(run_id))
    published_at = datetime.now(UTC)
    try:
        tables = _stage_marts(settings, staged, (run_id, run_date, published_at))
        manifest = {
            "run_id": run_id,
            "run_date": run_date.isoformat() if run_date else None,
            "published_at": published_at.isoformat(),
            "database": str(settings.published_warehouse_path),
            "version": staged.name,
            "tables": {n: {"rows": r, "parquet": f"{n}.parquet"} for n, r in tables.items()},
            "dbt_docs": DOCS_FILE if docs is not None else None,
        }
        if docs is not None:
            shutil.copyfile(docs, staged.marts / DOCS_FILE)
        (staged.marts / "_manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
        version = staged.commit()
    except BaseException:
        staged.discard()
        raise
    clean_leftovers(home)  # versions before the last two
    log.info("published %d marts as %s (%s)", len(tables), version, settings.published_warehouse_path)
    return PublishResult(
        run_id, run_date, published_at, settings.published_warehouse_path, settings.marts_export_dir, tables
    )


def _version_name(run_id: str) -> str:
    """The version directory's name: the run id, reduced to what is safe in a file name."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in run_id)
    return safe[:80] or "run"


def _stage_marts(
    settings: Settings, staged: StagedVersion, info: tuple[str, date | None, datetime]
) -> dict[str, int]:
    """Copy every mart of the work warehouse into the staged DuckDB file and a staged Parquet file each.

    The new DuckDB file is written in :data:`PUBLISHED_STORAGE_VERSION`, so that every reader from
    DuckDB 1.0 on (the CLI, a BI tool's bundled DuckDB) opens it, whatever DuckDB the pipeline runs.
    ``info`` (run id, run date, publish time) and the source file are the row of
    :data:`PUBLISH_INFO_TABLE`; each Parquet file carries the run id as ``salesops_run_id``
    key-value metadata, so a reader can tell which night any single file is from.
    """
    tables: dict[str, int] = {}
    work = settings.warehouse_path
    with duckdb_limits.connect(work, settings) as conn:
        marts = [
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "and table_catalog = current_database() order by 1",
                [PUBLISHED_SCHEMA],
            ).fetchall()
        ]
        if not marts:
            raise RuntimeError(f"nothing to publish: no tables in {work}:{PUBLISHED_SCHEMA}")
        conn.execute(
            f"attach '{_sql_str(staged.database)}' as pub (storage_version '{PUBLISHED_STORAGE_VERSION}')"
        )
        conn.execute(f"create schema pub.{PUBLISHED_SCHEMA}")
        for name in marts:
            published = f'pub.{PUBLISHED_SCHEMA}."{name}"'
            conn.execute(f'create table {published} as select * from {PUBLISHED_SCHEMA}."{name}"')
            _copy_comments(conn, name, published)
            tables[name] = conn.execute(f"select count(*) from {published}").fetchone()[0]
            parquet = staged.marts / f"{name}.parquet"
            meta = f"kv_metadata {{salesops_run_id: '{_sql_str(info[0])}'}}"
            to = f"'{_sql_str(parquet)}' (format parquet, compression zstd, {meta})"
            conn.execute(f"copy (select * from {published}) to {to}")
        conn.execute(
            f"create table pub.{PUBLISH_INFO_TABLE} as select ?::varchar as run_id, ?::date as run_date, "
            "?::timestamptz as published_at, ?::varchar as source_file",
            [*info, str(work)],
        )
        conn.execute("checkpoint pub")
        conn.execute("detach pub")
    return tables


def _copy_comments(conn: duckdb.DuckDBPyConnection, name: str, published: str) -> None:
    """Carry the mart's table and column comments (dbt's ``persist_docs``: the YAML descriptions)
    over to its published copy, which ``create table ... as select`` leaves without them: the
    comments are what a BI tool or ``duckdb_columns()`` shows a reader as the column's meaning."""
    where = "where database_name = current_database() and schema_name = ? and {} = ? and comment is not null"
    relation = conn.execute(
        f"select comment from duckdb_tables() {where.format('table_name')} "
        f"union all select comment from duckdb_views() {where.format('view_name')}",
        [PUBLISHED_SCHEMA, name, PUBLISHED_SCHEMA, name],
    ).fetchone()
    if relation:
        conn.execute(f"comment on table {published} is '{_sql_str(relation[0])}'")
    columns = conn.execute(
        f"select column_name, comment from duckdb_columns() {where.format('table_name')} "
        "order by column_index",
        [PUBLISHED_SCHEMA, name],
    ).fetchall()
    for column, comment in columns:
        quoted = column.replace('"', '""')
        conn.execute(f"comment on column {published}.\"{quoted}\" is '{_sql_str(comment)}'")


def published_info(settings: Settings) -> dict | None:
    """The manifest of the last publish, or None if nothing was published yet."""
    path = settings.marts_export_dir / "_manifest.json"
    return json.loads(path.read_text("utf-8")) if path.exists() else None


def migrate_legacy_layout(settings: Settings) -> bool:
    """A home from before the work/ split holds the pipeline's state in ``<home>/warehouse.duckdb``.

    Move it to ``<home>/work/`` once (keeping raw data, watermarks and the e-mail log), so the
    next run is incremental and does not re-send reports; the next publish recreates the served file.
    """
    old, new = settings.published_warehouse_path, settings.warehouse_path
    if new.exists() or not old.exists():
        return False
    with duckdb_limits.connect(old, settings) as conn:
        schemas = {
            s for (s,) in conn.execute("select schema_name from information_schema.schemata").fetchall()
        }
    if not ({"raw", "ops"} & schemas):
        return False  # a published file: marts only
    new.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(old), str(new))
    if Path(f"{old}.wal").exists():
        shutil.move(f"{old}.wal", f"{new}.wal")
    log.warning("moved the pipeline's warehouse from %s to %s (new SALESOPS_HOME layout)", old, new)
    return True


@contextlib.contextmanager
def read_published(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the published marts (what a BI tool should do)."""
    conn = duckdb_limits.connect(settings.published_warehouse_path, settings, read_only=True)
    try:
        yield conn
    finally:
        conn.close()


def _sql_str(text: Path | str) -> str:
    """``text`` inside a single-quoted SQL literal (paths and comments cannot be bound parameters)."""
    return str(text).replace("'", "''")
