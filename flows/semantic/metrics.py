"""Metric queries of the semantic layer, compiled by MetricFlow and run on a DuckDB connection.

The KPIs are defined once, in dbt_project/models/semantic/ (semantic models and metrics over the
marts). ``dbt parse`` / ``dbt build`` write them to ``semantic_manifest.json``; the nightly's build
leaves it in ``<home>/dbt_target/``. MetricFlow compiles a request (metrics, group-by, where) into
SQL, which runs here on the caller's connection, so a report or a CLI reads the same figures as
``mf query`` without a dbt profile or a second connection to the warehouse. The manifest names
tables as ``"<catalog>"."marts"."<table>"`` with the catalog of the build (the file's stem,
``warehouse``); they are re-pointed at the connection's own catalog, so the working file, the
published file, or a copy under another name answer alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from metricflow.engine.metricflow_engine import MetricFlowEngine, MetricFlowQueryRequest
from metricflow.protocols.sql_client import SqlEngine
from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer
from metricflow.sql.render.sql_plan_renderer import SqlPlanRenderer
from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

from flows.config.settings import Settings

MANIFEST_FILE = "semantic_manifest.json"


class SemanticLayerError(RuntimeError):
    """The semantic manifest is missing or unreadable, or a request names no known metric."""


def manifest_path(settings: Settings) -> Path:
    """Where the nightly's ``dbt build`` (flows.warehouse.dbt_runner) leaves the semantic manifest."""
    return settings.home_dir / "dbt_target" / MANIFEST_FILE


class _SqlRenderingClient:
    """The part of MetricFlow's SqlClient that compiling needs: the dialect; nothing runs through it."""

    @property
    def sql_engine_type(self) -> SqlEngine:
        return SqlEngine.DUCKDB

    @property
    def sql_plan_renderer(self) -> SqlPlanRenderer:
        return DuckDbSqlPlanRenderer()


def _repoint(manifest: dict[str, Any], catalog: str) -> dict[str, Any]:
    """Every table of the manifest (semantic models, time spines) in ``catalog``."""
    relations = [m["node_relation"] for m in manifest.get("semantic_models", [])]
    relations += [
        s["node_relation"] for s in manifest.get("project_configuration", {}).get("time_spines", [])
    ]
    for rel in relations:
        rel["database"] = catalog
        rel["relation_name"] = f'"{catalog}"."{rel["schema_name"]}"."{rel["alias"]}"'
    return manifest


@dataclass(frozen=True)
class MetricResult:
    columns: list[str]
    rows: list[dict[str, Any]]


class SemanticLayer:
    """Compile metric requests with MetricFlow (``sql``) and run them on a connection (``query``)."""

    def __init__(
        self, manifest_json: str, *, catalog: str = "warehouse", source: str = MANIFEST_FILE
    ) -> None:
        try:
            raw = _repoint(json.loads(manifest_json), catalog)
            manifest = parse_manifest_from_dbt_generated_manifest(json.dumps(raw))
        except (ValueError, KeyError, TypeError) as exc:
            raise SemanticLayerError(f"{source}: not a dbt semantic manifest ({exc})") from exc
        # as declared in the YAML (MetricFlow adds helper metrics of its own to the parsed manifest)
        self.metric_names = sorted(m["name"] for m in raw.get("metrics", []))
        self._engine = MetricFlowEngine(SemanticManifestLookup(manifest), _SqlRenderingClient())  # type: ignore[arg-type]

    @classmethod
    def from_file(cls, path: Path, *, catalog: str = "warehouse") -> SemanticLayer:
        """Load ``path``; a clear error (naming it) when it is missing, e.g. before the first dbt run."""
        if not path.is_file():
            raise SemanticLayerError(
                f"{path}: no semantic manifest; run the nightly (or `dbt parse` in dbt_project/) first"
            )
        return cls(path.read_text("utf-8"), catalog=catalog, source=str(path))

    @classmethod
    def for_connection(cls, path: Path, conn: duckdb.DuckDBPyConnection) -> SemanticLayer:
        """The layer with its tables in ``conn``'s current catalog."""
        (catalog,) = conn.execute("select current_database()").fetchone() or ("warehouse",)
        return cls.from_file(path, catalog=catalog)

    def sql(self, metrics: Sequence[str], group_by: Sequence[str] = (), where: Sequence[str] = ()) -> str:
        """The SQL MetricFlow generates for the request (what ``mf query --explain`` prints)."""
        unknown = sorted(set(metrics) - set(self.metric_names))
        if unknown:
            raise SemanticLayerError(f"unknown metric(s) {unknown}; defined: {', '.join(self.metric_names)}")
        request = MetricFlowQueryRequest.create(
            metric_names=list(metrics), group_by_names=list(group_by), where_constraints=list(where) or None
        )
        try:
            return self._engine.explain(request).sql_statement.sql
        except Exception as exc:  # MetricFlow's own query errors name the unknown dimension or bad filter
            raise SemanticLayerError(f"metrics {list(metrics)} by {list(group_by)}: {exc}") from exc

    def query(
        self,
        conn: duckdb.DuckDBPyConnection,
        metrics: Sequence[str],
        group_by: Sequence[str] = (),
        where: Sequence[str] = (),
    ) -> MetricResult:
        """Run the request on ``conn``: one dict per row, columns as MetricFlow names them."""
        cursor = conn.execute(self.sql(metrics, group_by, where))
        names = [d[0] for d in cursor.description]
        return MetricResult(names, [dict(zip(names, row, strict=True)) for row in cursor.fetchall()])


def as_decimal(value: Any) -> Decimal | None:
    """A metric value (DuckDB returns doubles for ratios, decimals for sums) as Decimal; None stays None."""
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))
