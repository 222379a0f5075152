"""Typed settings for every part of salesops.

Everything is read from environment variables prefixed ``SALESOPS_`` (or a ``.env`` file in the
working directory), so that a deployment can be configured without touching code and secrets
never need to be written to files in the repository. Secret values are ``SecretStr``: they print
as ``**********`` in logs, reprs and exceptions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The repository root: config/, dbt_project/ and expectations/ live here.
PROJECT_DIR = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Runtime configuration. Field ``foo`` is read from ``SALESOPS_FOO``."""

    model_config = SettingsConfigDict(env_prefix="SALESOPS_", env_file=".env", extra="ignore")

    # --- where things live -------------------------------------------------------------------
    home: Path = Field(default=Path("data"), description="Root of everything a run writes.")
    project_dir: Path = Field(default=PROJECT_DIR, description="Checkout holding config/, dbt_project/.")
    config_dir: Path | None = Field(
        default=None, description="Targets, plans, recipients (default <project>/config)."
    )

    # --- company -----------------------------------------------------------------------------
    timezone: str = "Asia/Shanghai"
    reporting_currency: str = "USD"
    fiscal_year_start_month: int = Field(default=1, ge=1, le=12)

    # --- Zoho CRM ----------------------------------------------------------------------------
    zoho_enabled: bool = True
    zoho_accounts_url: str = "https://accounts.zoho.com"
    zoho_client_id: SecretStr | None = None
    zoho_client_secret: SecretStr | None = None
    zoho_refresh_token: SecretStr | None = None
    zoho_api_version: str = "v8"
    #: Names of Prefect Secret blocks to read a credential from when its env var is not set.
    zoho_client_id_block: str | None = Field(default=None, description="Prefect Secret block: client id.")
    zoho_client_secret_block: str | None = Field(
        default=None, description="Prefect Secret block: client secret."
    )
    zoho_refresh_token_block: str | None = Field(
        default=None, description="Prefect Secret block: refresh token."
    )

    zoho_bulk_read: bool = Field(
        default=True,
        description="First loads of large Zoho modules (Deals, Accounts, Contacts) via Bulk Read.",
    )
    zoho_bulk_read_min_records: int = Field(
        default=50_000, ge=0, description="A module's first load uses Bulk Read from this many records on."
    )
    zoho_bulk_read_max_wait_seconds: float = Field(
        default=1800.0, gt=0, description="How long a Bulk Read job may take before the load fails."
    )
    # Zoho's per-app concurrency limit is 5 (Free) to 25 (Ultimate): flows/crm/zoho/limits.py.
    zoho_concurrency: int = Field(
        default=5,
        ge=1,
        le=25,
        description="Zoho API calls in flight at once (stage history reads this many deals at a time); "
        "the default is the Free edition's concurrency limit, within every edition's; raise it to your "
        "edition's (Standard 10, Professional 15, Enterprise 20, Ultimate 25) if nothing else uses the app.",
    )

    # --- Fxiaoke -----------------------------------------------------------------------------
    fxiaoke_enabled: bool = True
    fxiaoke_base_url: str = "https://open.fxiaoke.com"
    fxiaoke_app_id: SecretStr | None = None
    fxiaoke_app_secret: SecretStr | None = None
    fxiaoke_permanent_code: SecretStr | None = None
    fxiaoke_open_user_id: str | None = Field(default=None, description="currentOpenUserId of a CRM admin.")
    #: Names of Prefect Secret blocks to read a credential from when its env var is not set.
    fxiaoke_app_id_block: str | None = Field(default=None, description="Prefect Secret block: appId.")
    fxiaoke_app_secret_block: str | None = Field(default=None, description="Prefect Secret block: appSecret.")
    fxiaoke_permanent_code_block: str | None = Field(
        default=None, description="Prefect Secret block: permanentCode."
    )
    fxiaoke_auth_mode: Literal["legacy", "oauth2"] = Field(
        default="legacy",
        description="legacy: corpAccessToken in the body; oauth2: /oauth2.0/token + Bearer/x-fs-* headers.",
    )
    fxiaoke_custom_objects: str = Field(
        default="",
        description="Comma-separated custom object API names (object_xxx__c); raw.fxiaoke_custom_<name>.",
    )

    fxiaoke_deletion_sweep_days: float = Field(
        default=1.0,
        ge=0,
        description="How often (days; 0: every run) an id-only sweep finds Fxiaoke rows deleted for good.",
    )
    fxiaoke_sweep_max_missing_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="Largest share of an object's landed live rows a deletion sweep (or full refresh) may "
        "find missing; above it the ingest fails instead of marking them deleted (1: no limit).",
    )
    fxiaoke_rate_limit_calls: int = Field(
        default=60,
        ge=0,
        description="Fxiaoke's limit per endpoint (calls per window); paced to one call under it; 0: off.",
    )
    fxiaoke_rate_limit_window_seconds: float = Field(
        default=20.0, gt=0, description="The window of SALESOPS_FXIAOKE_RATE_LIMIT_CALLS, in seconds."
    )
    fxiaoke_read_workers: int = Field(
        default=4,
        ge=1,
        le=16,
        description="Fxiaoke objects read at once (threads); one writer lands their pages.",
    )

    # --- landing (both CRMs) -----------------------------------------------------------------
    landing_batch_records: int = Field(
        default=5_000,
        ge=1,
        description="Records of consecutive pages landed in one transaction with their cursors "
        "(1: every page alone); a killed run re-reads at most one batch.",
    )
    landing_batch_seconds: float = Field(
        default=5.0, gt=0, description="A batch waits at most this long for more pages before it lands."
    )

    # --- HTTP behaviour shared by the connectors ---------------------------------------------
    http_timeout_seconds: float = 30.0
    http_max_retries: int = 5
    http_backoff_base_seconds: float = 1.0
    http_backoff_max_seconds: float = 60.0

    # --- email -------------------------------------------------------------------------------
    smtp_host: str = "localhost"
    smtp_port: int = 8025
    smtp_security: Literal["plain", "starttls", "ssl"] = "plain"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = "salesops@localhost"
    alert_recipients: str = Field(
        default="data-engineers@salesops-demo.com",
        description="Comma-separated addresses of the data engineers who get failure alerts.",
    )
    smtp_credentials_block: str | None = Field(
        default=None,
        description="Name of a Prefect EmailServerCredentials block; when set it replaces SMTP_* settings.",
    )

    # --- dbt in Prefect ----------------------------------------------------------------------
    dbt_task_per_node: bool = Field(
        default=False,
        description=(
            "Run dbt through prefect-dbt's PrefectDbtRunner (one Prefect task per model/test, "
            "finer UI) instead of one dbt invocation with a node table artifact. About 4x slower: "
            "~110 s instead of ~27 s for the demo's 430 nodes."
        ),
    )

    # --- commission engine ---------------------------------------------------------------------
    commission_engine_chunk_credits: int = Field(
        default=50_000,
        ge=0,
        description="Credits (roll-ups included) the nightly's commission engine holds at once: it runs "
        "over groups of reps of at most this many credits (a rep with more is a group alone), so its "
        "memory does not grow with the company; the ledger is the same for any value "
        '(docs/commission_engine.md, "Streaming by groups of reps").',
    )

    # --- DuckDB resources (every connection the pipeline opens: flows/warehouse/duckdb_limits.py) --
    duckdb_memory_limit: str = Field(
        default="1GiB",
        description="DuckDB's memory_limit per database (a DuckDB size: 1GiB, 768MiB, 2GB); beyond it "
        "DuckDB spills to SALESOPS_DUCKDB_TEMP_DIRECTORY. Chosen in docs/operations.md.",
    )
    duckdb_gate_memory_limit: str = Field(
        default="512MiB",
        description="DuckDB's memory_limit while the data gate runs (when lower than "
        "SALESOPS_DUCKDB_MEMORY_LIMIT): the gate only scans, and what DuckDB keeps cached of the raw "
        "tables it read came on top of the gate's frames. Chosen in docs/operations.md.",
    )
    duckdb_threads: int = Field(
        default_factory=lambda: len(os.sched_getaffinity(0)),
        ge=1,
        description="DuckDB worker threads per database (default: the CPU cores this process may use).",
    )
    duckdb_temp_directory: Path | None = Field(
        default=None,
        description="Where DuckDB spills what does not fit in its memory limit (default: duckdb_tmp beside "
        "the database file, <home>/work/duckdb_tmp for the pipeline's); a subdirectory per process and file.",
    )

    @field_validator("duckdb_memory_limit", "duckdb_gate_memory_limit")
    @classmethod
    def _duckdb_size(cls, value: str, info: ValidationInfo) -> str:
        """DuckDB itself parses the size, so what passes here is exactly what it accepts at connect."""
        import duckdb

        try:
            duckdb.connect(":memory:", config={"memory_limit": value}).close()
        except duckdb.Error as exc:
            name = f"SALESOPS_{(info.field_name or '').upper()}"
            raise ValueError(
                f"{name}={value!r} is not a DuckDB size such as 1GiB or 768MiB ({exc})"
            ) from None
        return value

    # --- PostgreSQL (optional: `salesops warehouse postgres`, dbt target `pg`) ----------------
    pg_host: str = Field(default="127.0.0.1", description="PostgreSQL host the marts are built on.")
    pg_port: int = Field(default=5432, ge=1, le=65535)
    pg_user: str = "salesops"
    pg_password: SecretStr | None = None
    pg_database: str = "salesops"

    # --- reports -----------------------------------------------------------------------------
    recipients_file: Path | None = Field(
        default=None,
        description="Distribution lists and per-recipient language (default <config>/recipients.yml).",
    )
    report_language: Literal["en", "zh-CN"] = Field(
        default="en", description="Language and amount format of reports when recipients.yml says nothing."
    )
    run_lock_wait_seconds: float = Field(
        default=0.0, description="How long a nightly run waits for another run's lock before failing."
    )
    warehouse_limit_wait_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="How long a deployed run waits for the Prefect global concurrency limit "
        "salesops-warehouse (another deployed run writing the work warehouse) before failing.",
    )
    task_retries: bool = Field(
        default=True,
        description="Prefect task retries of the steps that are safe to repeat (docs/operations.md); "
        "false fails fast (the test suite, a run watched by hand).",
    )
    task_retry_delay_seconds: float | None = Field(
        default=None, description="Replaces every task retry delay (tests make them short)."
    )

    @property
    def alert_recipient_list(self) -> list[str]:
        return [a.strip() for a in self.alert_recipients.split(",") if a.strip()]

    # --- derived paths -----------------------------------------------------------------------
    @cached_property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def work_dir(self) -> Path:
        """The pipeline's private state; nothing but the pipeline opens files here."""
        return self.home_dir / "work"

    @property
    def warehouse_path(self) -> Path:
        """The working DuckDB file every step writes: raw, ops, config, staging, marts."""
        return self.work_dir / "warehouse.duckdb"

    @property
    def published_warehouse_path(self) -> Path:
        """The marts as of the last night that passed the gate, swapped in atomically (readers)."""
        return self.home_dir / "warehouse.duckdb"

    @property
    def marts_export_dir(self) -> Path:
        """One Parquet file per published mart."""
        return self.home_dir / "marts"

    @property
    def recipients_path(self) -> Path:
        return (self.recipients_file or self.config_path / "recipients.yml").resolve()

    @property
    def reports_dir(self) -> Path:
        return self.home_dir / "reports"

    @property
    def outbox_dir(self) -> Path:
        return self.home_dir / "outbox"

    @property
    def config_path(self) -> Path:
        return (self.config_dir or self.project_dir / "config").resolve()

    @property
    def dbt_project_dir(self) -> Path:
        return self.project_dir / "dbt_project"

    @property
    def expectations_dir(self) -> Path:
        return self.project_dir / "expectations"

    def ensure_dirs(self) -> None:
        for path in (self.home_dir, self.work_dir, self.reports_dir, self.outbox_dir):
            path.mkdir(parents=True, exist_ok=True)


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides winning (used by the demo)."""
    return Settings(**overrides)  # type: ignore[arg-type]


@contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
