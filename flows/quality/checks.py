"""The data-quality gate: Great Expectations suites run against the warehouse before reports go out.

Two layers, two calls: ``run_checks(..., layer="raw")`` after landing, ``layer="marts"`` after dbt.
A failed *critical* check fails the gate (nothing is published, no manager report, the data
engineers get an alert); *warnings* are reported and everything publishes.

Why the shape:

* **pandas datasource, not SQL.** GX 1.24's SQL datasource does not work on DuckDB (every
  expectation fails with ``IndexError``), so DuckDB computes narrow frames and GX validates them
  as ephemeral dataframe assets. Each suite JSON (``expectations/expectations/<suite>.json``)
  holds two kinds of expectation, told apart by ``meta.frame``:

  - ``"table"``: **table-level checks pushed down to SQL.** DuckDB computes one row of
    aggregates per table (row counts, live rows vs the previous run, duplicate and missing ids,
    newest modified time, in-page repeats the feed collapsed, reconciliation differences) and GX
    checks that single row. Cost: one scan of the table in DuckDB (columnar, vectorised,
    parallel); memory: one row. This is what makes uniqueness and row-count bands free at any
    size: they are never computed in pandas.
  - ``"row"`` (default): **row-level checks over a narrow frame.** The query pulls out only the
    ~10 fields the suite checks (``record->>'Amount'`` …), never the JSON, and reads it in chunks
    of :data:`CHUNK_ROWS` (``fetch_record_batch``), validating chunk by chunk and merging the
    results, so memory is bounded by the chunk, not the table.

* **scope of row-level checks** (``row_scope``): ``"run"`` checks only the rows this run landed
  or changed (``raw.*.run_id = run_id``) plus the rows currently quarantined (so a fix in the CRM
  or in reference data releases them); ``"all"`` re-checks every live row (the on-demand
  ``salesops validate`` default, and a weekly full sweep). With ``"run"`` a nightly incremental
  run over millions of records validates only the tens of thousands that changed.
  Reference sets (the stage list from the dbt seed ``crm_stage_mapping.csv``, known currencies
  from ``config/exchange_rates.csv``, the user ids that owners must resolve to) are loaded once
  per gate run and passed as GX suite parameters (``{"$PARAMETER": "..."}``); the stage
  category join (closed deals need a close date) is done in DuckDB against the seed.

* **quarantine instead of blocking for row-level problems**: a deal with a negative or
  non-numeric amount, an unknown stage, an unknown or missing owner, an unknown currency, a
  future timestamp or a closed deal without a close date is put in ``ops.quarantine``
  (:mod:`flows.quality.quarantine`) with the failed expectation and the reason, excluded from the marts
  by the dbt macro ``exclude_quarantined``, and reported as a *warning*. Such an expectation
  carries ``meta.quarantine = true`` and ``meta.critical_share``: when the offending rows exceed
  that share of the table's live rows (default 1 %), the problem is systemic (a new stage nobody
  mapped, a broken currency field), the check is escalated to *critical* and the run is blocked.
  Only transactional objects quarantine (``SuiteSource.quarantine``); master data (users,
  employees, accounts) is reported, never excluded (excluding a rep would orphan their deals).

* **order to cash** (Zoho ``Sales_Orders`` / ``Invoices``, Fxiaoke ``SalesOrderObj`` /
  ``InvoiceApplicationObj`` / ``PaymentObj``) get the deals' treatment: the same table-level
  checks (ids present and unique, row-count band, feed repeats, newest time not in the future;
  no 72 h freshness check: orders, invoices and payments arrive in bursts, days can pass without
  one) and quarantining row checks: the record carries its id, the amount is present, numeric
  and **not negative**, the currency is known, the owner resolves to a user, the customer (when
  set) resolves to a live landed account, the date the object cannot do without (order date,
  invoice date, payment date) is present and parseable, optional dates parse (the staging casts
  would otherwise fail the whole dbt build), created/modified times are not in the future.
  Negative amounts: neither CRM models a credit as a negative order, invoice or payment — Zoho
  CRM cancels an order with ``Status = Cancelled`` and keeps credit notes out of the CRM (Zoho
  Books), Fxiaoke has a return object of its own (退货单, ``ReturnedGoodsInvoiceObj``, not
  landed) — so a negative amount on these objects is a data error, not a legitimate credit.
  Their ``critical_share`` is 5 %, not 1 %: the tables are a fraction of the deals' size, and
  one bad payment in fifty must be held back, not stop the night. The customer check is a join
  in the row query (``unresolved_account_id``), not a GX value set, so it costs one hash join in
  DuckDB whatever the number of accounts; without a landed accounts table it is skipped
  (``meta.requires``) rather than quarantining every row. In dbt, a Fxiaoke payment drops with
  its quarantined invoice (``stg_fxiaoke__payments``).

* **structural problems block**: duplicate or missing ids in a landed table, a landed id that
  does not match the record's id, a live row count that dropped to under 20 % of the previous
  run's (an incident, not a quiet night), a mart key that is not unique, commission lines that do
  not add up to their statements, a closed period's statement that changed
  (``ops.closed_statement_snapshots``), team roll-ups that do not add up to their reps, a rep paid
  in a month without a target for it, a KPI rate outside [0, 1].
* **marts in flux are tolerated, not ignored**: a marts suite reads only the columns it checks
  that the table has; an expectation on a column the mart no longer has is a *warning* naming it,
  so a contract change shows up without blocking every run.

* **the repository is never written.** The committed ``expectations/`` context holds the suites;
  at run time the context is rebuilt in memory from ``great_expectations.yml`` with the
  validation results and Data Docs pointed at ``<SALESOPS_HOME>/gx/`` (one context per gate run).
* **missing or broken tables are results, not crashes**: a suite whose table is *expected* but
  missing (a raw object that was landed before; a mart with a dbt model) becomes one failed
  critical check with the reason; a table that is not expected (a CRM that is disabled, a mart
  not built yet) is skipped. Raw tables without a suite of their own (new CRM objects) get the
  generic table-level suite ``raw_generic`` automatically, as ``raw_<table>``.

Scaling, in numbers (DuckDB on one machine): the table-level SQL is one pass at a few hundred
million values a second; a 1M-row raw table's narrow frame is ~100-200 MB and is read in
:data:`CHUNK_ROWS` chunks; with ``row_scope="run"`` only the night's changes are framed at all.
What stays in Python grows with the rows in scope, not with the chunk: the ids evaluated (to
release fixed rows: a few tens of bytes each) and every offending row's key; the reference sets
passed as suite parameters are small (stages, currencies, user ids); accounts are joined in SQL.
Past that (tens of millions of changed rows a night) the row-level checks themselves should be
pushed into SQL as well (each row-level expectation is a ``where`` predicate; GX would then
validate the per-predicate counts) — the frame/chunk boundary in :func:`_run_suite` is where.
"""

from __future__ import annotations

import csv
import glob
import json
import logging
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import yaml

from flows.config.settings import Settings
from flows.quality import quarantine as quarantine_store

if TYPE_CHECKING:  # GX takes seconds to import: only the gate run pays for it.
    from great_expectations.data_context import AbstractDataContext

log = logging.getLogger(__name__)

#: dbt writes marts to ``marts`` (custom schema name) or ``main_marts`` (dbt-duckdb default).
MARTS_SCHEMAS: tuple[str, ...] = ("marts", "main_marts")
#: Clock skew tolerated before a record's modified time counts as "in the future".
FUTURE_SKEW = timedelta(minutes=5)
#: How many offending rows each failed check keeps as examples.
EXAMPLE_COUNT = 5
#: Rows per chunk of a row-level frame.
CHUNK_ROWS = 250_000
#: Default share of a table's live rows above which a quarantining check becomes critical.
DEFAULT_CRITICAL_SHARE = 0.01
DATA_DOCS_SITE = "local_site"
GENERIC_RAW_SUITE = "raw_generic"
ROW_SCOPES = ("all", "run")


@dataclass(frozen=True)
class SuiteSource:
    """Where a suite's data comes from.

    ``table`` is ``schema.table`` (marts are looked up in every schema of :data:`MARTS_SCHEMAS`);
    ``sql`` is the narrow row-level query, selecting ``from {table} as d where {where}`` for raw
    tables (``{where}`` is the live-rows-in-scope predicate) or ``from {table}`` for marts;
    ``table_level`` names the table-level aggregate (``"raw"``, ``"reconciliation"`` or None).
    """

    table: str
    sql: str | None
    key_columns: tuple[str, ...] = ("id",)
    table_level: str | None = None
    quarantine: bool = False
    json_name: str | None = None  # suite JSON when it is not the suite's own name (generic suites)
    #: marts: the columns to read when ``sql`` is None. Columns the table lacks (a mart contract in
    #: flux) skip the expectations on them with a warning instead of failing the whole suite.
    columns: tuple[str, ...] = ()
    #: marts: computed columns ``(name, expression, columns it needs)``.
    computed: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @property
    def layer(self) -> str:
        return "raw" if self.table.startswith("raw.") else "marts"

    @property
    def source_object(self) -> tuple[str, str]:
        """``raw.zoho_deals`` -> ``("zoho", "deals")``."""
        name = self.table.split(".", 1)[1]
        source, _, obj = name.partition("_")
        return source, obj


_LIVE = "not coalesce(d.is_deleted, false)"

_ZOHO_DEALS_SQL = """
    with stages as (
        select stage, max(stage_category) as stage_category
        from {stage_mapping} where source = 'zoho' group by stage
    )
    select
        d.id,
        d.record->>'id' as record_id,
        nullif(trim(d.record->>'Amount'), '') as amount_text,
        try_cast(nullif(trim(d.record->>'Amount'), '') as decimal(38, 6)) as amount,
        d.record->>'Stage' as stage,
        d.record->>'Currency' as currency,
        d.record->'Owner'->>'id' as owner_id,
        coalesce(s.stage_category in ('won', 'lost'), false)
            and try_cast(d.record->>'Closing_Date' as date) is null as closed_without_close_date,
        try_cast(d.record->>'Created_Time' as timestamptz) as created_at,
        d.modified_at
    from {table} as d
    left join stages as s on s.stage = d.record->>'Stage'
    where {where}
"""

_FXIAOKE_OPPORTUNITIES_SQL = """
    with stages as (
        select stage, max(stage_category) as stage_category
        from {stage_mapping} where source = 'fxiaoke' group by stage
    )
    select
        d.id,
        d.record->>'_id' as record_id,
        nullif(trim(d.record->>'amount'), '') as amount_text,
        try_cast(nullif(trim(d.record->>'amount'), '') as decimal(38, 6)) as amount,
        d.record->>'sales_stage__r' as stage,
        d.record->>'mc_currency' as currency,
        d.record->'owner'->>0 as owner_id,
        d.record->>'life_status' as life_status,
        coalesce(s.stage_category in ('won', 'lost'), false)
            and try_cast(d.record->>'close_date' as bigint) is null as closed_without_close_date,
        to_timestamp(try_cast(d.record->>'create_time' as bigint) / 1000.0) as created_at,
        d.modified_at
    from {table} as d
    left join stages as s on s.stage = d.record->>'sales_stage__r'
    where {where}
"""

_ZOHO_ACCOUNTS_SQL = """
    select
        d.id,
        d.record->>'id' as record_id,
        d.record->>'Account_Name' as name,
        d.record->'Owner'->>'id' as owner_id,
        nullif(trim(d.record->>'Annual_Revenue'), '') as annual_revenue_text,
        try_cast(nullif(trim(d.record->>'Annual_Revenue'), '') as decimal(38, 6)) as annual_revenue,
        d.modified_at
    from {table} as d
    where {where}
"""

_FXIAOKE_ACCOUNTS_SQL = """
    select
        d.id,
        d.record->>'_id' as record_id,
        d.record->>'name' as name,
        d.record->'owner'->>0 as owner_id,
        nullif(trim(d.record->>'field_annual_revenue__c'), '') as annual_revenue_text,
        try_cast(nullif(trim(d.record->>'field_annual_revenue__c'), '') as decimal(38, 6)) as annual_revenue,
        d.modified_at
    from {table} as d
    where {where}
"""

_ZOHO_CONTACTS_SQL = """
    select
        d.id,
        d.record->>'id' as record_id,
        d.record->'Owner'->>'id' as owner_id,
        d.modified_at
    from {table} as d
    where {where}
"""

_ZOHO_USERS_SQL = """
    select
        d.id,
        d.record->>'id' as record_id,
        d.record->>'email' as email,
        d.record->>'status' as status,
        d.modified_at
    from {table} as d
    where {where}
"""

_FXIAOKE_EMPLOYEES_SQL = """
    select
        d.id,
        d.record->>'openUserId' as record_id,
        d.record->>'name' as name,
        d.record->>'isStop' as is_stop,
        d.modified_at
    from {table} as d
    where {where}
"""

# --- order to cash: sales orders, invoices, payments ---------------------------------------------
#
# One narrow frame shape for all five objects (the JSON never leaves DuckDB): ``amount_text`` /
# ``amount`` (the money field as text and as an exact decimal), ``currency``, ``owner_id``,
# ``account_id`` and ``unresolved_account_id`` (the customer id when no live landed account has
# it: that join runs here, in DuckDB, so a million accounts never become a Python set), the
# business date the object cannot do without (``order_date`` / ``invoice_date`` /
# ``payment_date_ms``; NULL when missing or unparseable), ``unparseable_dates`` (optional date
# fields whose text does not parse: the staging models' casts would fail the whole dbt build),
# ``created_at`` and ``modified_at``. ``{zoho_accounts}`` / ``{fxiaoke_accounts}`` are filled in
# by :func:`_reference_relations`.

#: Landed account tables the order-to-cash suites resolve customers against.
ACCOUNT_TABLES = {"zoho": "raw.zoho_accounts", "fxiaoke": "raw.fxiaoke_accounts"}
_NO_ACCOUNTS = "(select cast(null as varchar) as id, cast(null as boolean) as is_deleted where false)"


def _unresolved(expr: str, accounts: str) -> str:
    """``expr`` when it is set and no live row of ``accounts`` has that id, else NULL."""
    return (
        f"case when nullif({expr}, '') is not null and not exists ("
        f"select 1 from {accounts} as a where a.id = {expr} and not coalesce(a.is_deleted, false)"
        f") then {expr} end"
    )


def _bad_dates(fields: dict[str, str]) -> str:
    """Names of the fields (``name -> parse of its text``) whose text is present but does not parse."""
    if not fields:
        return "cast(null as varchar)"
    parts = [
        f"case when nullif(trim(d.record->>'{name}'), '') is not null and ({parse}) is null then '{name}' end"
        for name, parse in fields.items()
    ]
    return f"nullif(concat_ws(', ', {', '.join(parts)}), '')"


def _o2c_sql(
    *,
    id_field: str,
    amount: str,
    currency: str,
    owner: str,
    account: str,
    accounts: str,
    required_date: tuple[str, str],
    optional_dates: dict[str, str],
    created_at: str,
    extra: Sequence[str] = (),
) -> str:
    money = f"nullif(trim({amount}), '')"
    date_name, date_expr = required_date
    columns = [
        "d.id",
        f"d.record->>'{id_field}' as record_id",
        f"{money} as amount_text",
        f"try_cast({money} as decimal(38, 6)) as amount",
        f"{currency} as currency",
        f"{owner} as owner_id",
        f"{account} as account_id",
        f"{_unresolved(account, accounts)} as unresolved_account_id",
        f"{date_expr} as {date_name}",
        f"{_bad_dates(optional_dates)} as unparseable_dates",
        *extra,
        f"{created_at} as created_at",
        "d.modified_at",
    ]
    body = ",\n        ".join(columns)
    return f"\n    select\n        {body}\n    from {{table}} as d\n    where {{where}}\n"


def _zoho_date(field: str) -> str:
    return f"try_cast(d.record->>'{field}' as date)"


def _fx_ms(field: str) -> str:
    return f"try_cast(d.record->>'{field}' as bigint)"


_ZOHO_O2C = {
    "id_field": "id",
    "amount": "d.record->>'Grand_Total'",
    "currency": "d.record->>'Currency'",
    "owner": "d.record->'Owner'->>'id'",
    "account": "d.record->'Account_Name'->>'id'",
    "accounts": "{zoho_accounts}",
    "created_at": "try_cast(d.record->>'Created_Time' as timestamptz)",
}
_FXIAOKE_O2C = {
    "id_field": "_id",
    "currency": "d.record->>'mc_currency'",
    "owner": "d.record->'owner'->>0",
    "account": "d.record->>'account_id'",
    "accounts": "{fxiaoke_accounts}",
    "created_at": "to_timestamp(try_cast(d.record->>'create_time' as bigint) / 1000.0)",
    "extra": ("d.record->>'life_status' as life_status",),
}

_ZOHO_SALES_ORDERS_SQL = _o2c_sql(
    **_ZOHO_O2C,
    # the staging model's order date: the org field Order_Date, else the date of Created_Time
    required_date=(
        "order_date",
        "try_cast(coalesce(d.record->>'Order_Date', substr(d.record->>'Created_Time', 1, 10)) as date)",
    ),
    optional_dates={"Due_Date": _zoho_date("Due_Date")},
)
_ZOHO_INVOICES_SQL = _o2c_sql(
    **_ZOHO_O2C,
    required_date=("invoice_date", _zoho_date("Invoice_Date")),
    optional_dates={"Due_Date": _zoho_date("Due_Date"), "Last_Payment_Date": _zoho_date("Last_Payment_Date")},
    extra=(
        "nullif(trim(d.record->>'Amount_Paid'), '') as amount_paid_text",
        "try_cast(nullif(trim(d.record->>'Amount_Paid'), '') as decimal(38, 6)) as amount_paid",
    ),
)
_FXIAOKE_SALES_ORDERS_SQL = _o2c_sql(
    **_FXIAOKE_O2C,
    amount="d.record->>'order_amount'",
    required_date=("order_date_ms", _fx_ms("order_time")),
    optional_dates={"field_cancelled_time__c": _fx_ms("field_cancelled_time__c")},
)
_FXIAOKE_INVOICES_SQL = _o2c_sql(
    **_FXIAOKE_O2C,
    amount="d.record->>'invoice_amount'",
    required_date=("invoice_date_ms", _fx_ms("invoice_date")),
    optional_dates={"field_due_date__c": _fx_ms("field_due_date__c")},
)
_FXIAOKE_PAYMENTS_SQL = _o2c_sql(
    **_FXIAOKE_O2C,
    amount="d.record->>'payment_amount'",
    required_date=("payment_date_ms", _fx_ms("payment_time")),
    optional_dates={},
)


SUITE_SOURCES: dict[str, SuiteSource] = {
    "raw_zoho_deals": SuiteSource("raw.zoho_deals", _ZOHO_DEALS_SQL, table_level="raw", quarantine=True),
    "raw_fxiaoke_opportunities": SuiteSource(
        "raw.fxiaoke_opportunities", _FXIAOKE_OPPORTUNITIES_SQL, table_level="raw", quarantine=True
    ),
    # order to cash: transactional, so quarantined like deals (children drop with their parent in
    # the staging models: a Fxiaoke payment with its quarantined invoice)
    "raw_zoho_sales_orders": SuiteSource(
        "raw.zoho_sales_orders", _ZOHO_SALES_ORDERS_SQL, table_level="raw", quarantine=True
    ),
    "raw_zoho_invoices": SuiteSource(
        "raw.zoho_invoices", _ZOHO_INVOICES_SQL, table_level="raw", quarantine=True
    ),
    "raw_fxiaoke_sales_orders": SuiteSource(
        "raw.fxiaoke_sales_orders", _FXIAOKE_SALES_ORDERS_SQL, table_level="raw", quarantine=True
    ),
    "raw_fxiaoke_invoices": SuiteSource(
        "raw.fxiaoke_invoices", _FXIAOKE_INVOICES_SQL, table_level="raw", quarantine=True
    ),
    "raw_fxiaoke_payments": SuiteSource(
        "raw.fxiaoke_payments", _FXIAOKE_PAYMENTS_SQL, table_level="raw", quarantine=True
    ),
    "raw_zoho_accounts": SuiteSource("raw.zoho_accounts", _ZOHO_ACCOUNTS_SQL, table_level="raw"),
    "raw_fxiaoke_accounts": SuiteSource("raw.fxiaoke_accounts", _FXIAOKE_ACCOUNTS_SQL, table_level="raw"),
    "raw_zoho_contacts": SuiteSource("raw.zoho_contacts", _ZOHO_CONTACTS_SQL, table_level="raw"),
    "raw_zoho_users": SuiteSource("raw.zoho_users", _ZOHO_USERS_SQL, table_level="raw"),
    "raw_fxiaoke_employees": SuiteSource("raw.fxiaoke_employees", _FXIAOKE_EMPLOYEES_SQL, table_level="raw"),
    "marts_rep_scorecard": SuiteSource(
        "marts.fct_rep_scorecard",
        None,
        ("rep_id", "period_month"),
        columns=(
            "rep_id",
            "period_month",
            "manager_email",
            "won_amount",
            "deals_won",
            "deals_lost",
            "win_rate",
            "open_pipeline_amount",
            "weighted_pipeline_amount",
            "target_amount",
            "attainment",
        ),
    ),
    "marts_commissions": SuiteSource(
        "marts.fct_commissions",
        None,
        ("commission_line_id",),
        columns=(
            "commission_line_id",
            "rep_id",
            "period_month",
            "currency",
            "rate",
            "band_lower",
            "band_upper",
            "commission_amount",
        ),
        computed=(
            (
                "commission_to_base_ratio",
                "abs(commission_amount) / nullif(abs(base_amount), 0)",
                ("commission_amount", "base_amount"),
            ),
        ),
    ),
    # Rep x month targets (fct_sales_targets moved to day grain; its old contract is this table).
    "marts_sales_targets": SuiteSource(
        "marts.fct_rep_targets_monthly",
        None,
        ("rep_id", "period_month"),
        columns=("rep_id", "period_month", "target_amount", "actual_amount", "attainment"),
    ),
    "marts_commission_statements": SuiteSource(
        "marts.fct_commission_statements",
        None,
        ("statement_id",),
        columns=("statement_id", "rep_id", "period_month"),
    ),
    # Cross-table checks (commission statements, team roll-ups, targets, KPI rates): table-level only.
    "marts_reconciliation": SuiteSource("marts.fct_rep_scorecard", None, (), table_level="reconciliation"),
}

#: Where owners must resolve: deals' owner ids are checked against these users' ids.
USER_TABLES = {"zoho": "raw.zoho_users", "fxiaoke": "raw.fxiaoke_employees"}


@dataclass
class CheckResult:
    """One expectation's outcome on one suite's data (a row of ``ops.validation_results``)."""

    suite: str
    expectation: str
    column: str | None
    severity: str
    success: bool
    observed_value: Any
    unexpected_count: int | None
    unexpected_examples: list = field(default_factory=list)
    description: str = ""
    details: dict = field(default_factory=dict)
    #: every offending row's key (row-level checks): what the quarantine is made of. Not stored.
    offending: list = field(default_factory=list, repr=False)

    @property
    def label(self) -> str:
        return self.description or self.expectation

    @property
    def key(self) -> str:
        """``expect_column_values_to_be_in_set(stage)``: names the check in ``ops.quarantine``."""
        return f"{self.expectation}({self.column})" if self.column else self.expectation


@dataclass
class GateResult:
    """All checks of one gate run; ``success`` means no critical check failed."""

    run_id: str
    results: list[CheckResult]
    data_docs_path: Path | None = None
    duration_seconds: float = 0.0
    #: rows currently held back from the marts (:func:`flows.quality.quarantine.quarantine_summary`).
    quarantined: list[dict] = field(default_factory=list)
    #: per suite: {"quarantined": new this run, "released": ..., "active": ...}
    quarantine_counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def critical_failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity == "critical"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity != "critical"]

    @property
    def success(self) -> bool:
        return not self.critical_failures

    @property
    def needs_attention(self) -> bool:
        """True when a data engineer should hear about this run (critical, warning or quarantine)."""
        return bool(self.critical_failures or self.warnings or self.quarantined)

    def summary_markdown(self) -> str:
        """Short Markdown for a Prefect artifact or the alert e-mail: failures first, with examples."""
        status = "PASSED" if self.success else "FAILED"
        suites = sorted({r.suite for r in self.results})
        passed = sum(r.success for r in self.results)
        lines = [
            f"## Data quality gate {status} (run `{self.run_id}`)",
            "",
            f"{len(self.results)} checks in {len(suites)} suites ({', '.join(suites)}): {passed} passed, "
            f"{len(self.critical_failures)} critical failures, {len(self.warnings)} warnings, "
            f"{len(self.quarantined)} rows quarantined.",
        ]
        for title, rows in (("Critical failures", self.critical_failures), ("Warnings", self.warnings)):
            if not rows:
                continue
            lines += [
                "",
                f"### {title}",
                "",
                "| suite | check | column | observed | unexpected | examples |",
                "|---|---|---|---|---|---|",
            ]
            lines += [
                "| "
                + " | ".join(
                    _md_cell(v)
                    for v in (
                        r.suite,
                        r.label,
                        r.column or "",
                        _short(r.observed_value),
                        "" if r.unexpected_count is None else r.unexpected_count,
                        _short(r.unexpected_examples),
                    )
                )
                + " |"
                for r in rows
            ]
        if self.quarantined:
            lines += ["", quarantine_store.quarantine_markdown(self.quarantined).rstrip("\n")]
        if self.data_docs_path:
            lines += ["", f"Data Docs: `{self.data_docs_path}`"]
        return "\n".join(lines) + "\n"


def run_checks(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    run_id: str,
    suites: list[str] | None = None,
    layer: str | None = None,
    row_scope: str = "all",
) -> GateResult:
    """Run suites, quarantine offending raw rows, store the results, build Data Docs.

    ``suites`` names suites explicitly; otherwise ``layer`` (``"raw"`` / ``"marts"``) picks that
    layer's suites, or all suites when both are None. Raw tables without a suite of their own get
    the generic table-level suite as ``raw_<table>``. ``row_scope`` is ``"all"`` or ``"run"``
    (row-level checks only on the rows ``run_id`` landed, plus the quarantined ones).

    ``conn`` is the caller's open connection (opened with the default config: a process that ran
    dbt in-process cannot reopen the file read-only). Results go to ``ops.validation_results``,
    quarantined rows to ``ops.quarantine``, row counts to ``ops.raw_table_counts``.
    """
    if row_scope not in ROW_SCOPES:
        raise ValueError(f"row_scope must be one of {ROW_SCOPES}, not {row_scope!r}")
    started = time.perf_counter()
    sources = suite_sources(conn)
    if suites is not None:
        names = list(suites)
        unknown = [n for n in names if n not in sources]
        if unknown:
            raise ValueError(f"unknown suite(s) {unknown}; known: {sorted(sources)}")
    else:
        names = [n for n, s in sources.items() if layer is None or s.layer == layer]
    checked_at = datetime.now(UTC)
    context = _runtime_context(settings)
    params = _parameters(conn, settings, checked_at)
    results: list[CheckResult] = []
    counts: dict[str, dict[str, int]] = {}
    for name in names:
        suite_results, qcounts = _run_suite(
            conn,
            context,
            settings,
            name,
            sources[name],
            run_id=run_id,
            checked_at=checked_at,
            params=params,
            row_scope=row_scope,
        )
        results += suite_results
        if qcounts is not None:
            counts[name] = qcounts
    docs_path = _build_data_docs(context, settings)
    _store_results(conn, run_id, checked_at, results)
    gate = GateResult(
        run_id=run_id,
        results=results,
        data_docs_path=docs_path,
        duration_seconds=round(time.perf_counter() - started, 3),
        quarantined=quarantine_store.quarantine_summary(conn, run_id),
        quarantine_counts=counts,
    )
    log.info(
        "gate %s: %d checks, %d critical failures, %d warnings, %d rows quarantined in %.1fs",
        "passed" if gate.success else "FAILED",
        len(results),
        len(gate.critical_failures),
        len(gate.warnings),
        len(gate.quarantined),
        gate.duration_seconds,
    )
    return gate


def suite_sources(conn: duckdb.DuckDBPyConnection) -> dict[str, SuiteSource]:
    """The static suites plus ``raw_<table>`` (generic table-level suite) for every other raw table."""
    sources = dict(SUITE_SOURCES)
    covered = {s.table for s in sources.values()}
    rows = conn.execute(
        "select table_name from information_schema.tables where table_schema = 'raw' order by table_name"
    ).fetchall()
    for (table_name,) in rows:
        table = f"raw.{table_name}"
        if table not in covered and f"raw_{table_name}" not in sources:
            sources[f"raw_{table_name}"] = SuiteSource(
                table, None, table_level="raw", json_name=GENERIC_RAW_SUITE
            )
    return sources


# --- tables --------------------------------------------------------------------------------------


def find_table(conn: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """The qualified name under which ``schema.table`` exists, or None.

    Marts are looked up in every schema of :data:`MARTS_SCHEMAS`, so the gate and the reports work
    whether dbt writes them to ``marts`` or to dbt-duckdb's default ``main_marts``.
    """
    schema, name = table.split(".", 1)
    candidates = MARTS_SCHEMAS if schema in MARTS_SCHEMAS else (schema,)
    rows = conn.execute(
        "select table_schema from information_schema.tables where table_name = ? and table_schema in "
        f"({', '.join('?' for _ in candidates)})",
        [name, *candidates],
    ).fetchall()
    found = {r[0] for r in rows}
    return next((f'"{s}"."{name}"' for s in candidates if s in found), None)


def table_expected(conn: duckdb.DuckDBPyConnection, settings: Settings, table: str) -> bool:
    """Whether a missing ``table`` is a failure.

    A raw table is expected once its object has been landed successfully (``ops.ingest_runs``): a
    CRM that is disabled or never ingested is not an error, a landed table that vanished is. A mart
    is expected when the dbt project has a model of that name.
    """
    schema, name = table.split(".", 1)
    if schema == "raw":
        if not _exists(conn, "ops", "ingest_runs"):
            return True  # no bookkeeping at all: cannot tell, so insist
        source, _, obj = name.partition("_")
        row = conn.execute(
            "select count(*) from ops.ingest_runs where source = ? and object = ? and status = 'succeeded'",
            [source, obj],
        ).fetchall()[0]
        return bool(row and row[0])
    return bool(model_files(settings, name))


def model_files(settings: Settings, pattern: str) -> list[Path]:
    """dbt model files named ``<pattern>.sql`` (glob pattern) anywhere under ``models/``."""
    root = settings.dbt_project_dir / "models"
    return [Path(p) for p in sorted(glob.glob(str(root / "**" / f"{pattern}.sql"), recursive=True))]


def _exists(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    row = conn.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()[0]
    return bool(row and row[0])


def _columns(conn: duckdb.DuckDBPyConnection, qualified: str) -> list[str]:
    schema, name = (p.strip('"') for p in qualified.split(".", 1))
    rows = conn.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, name],
    ).fetchall()
    return [r[0] for r in rows]


# --- reference data (suite parameters) -----------------------------------------------------------


def stage_mapping_path(settings: Settings) -> Path:
    return settings.dbt_project_dir / "seeds" / "crm_stage_mapping.csv"


def load_stage_mapping(settings: Settings) -> list[dict[str, str]]:
    """The dbt seed's rows (``source, stage, stage_category, ...``), read at every gate run."""
    path = stage_mapping_path(settings)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def known_currencies(settings: Settings) -> list[str] | None:
    """Currencies with an exchange rate in ``config/exchange_rates.csv`` plus the reporting one."""
    path = settings.config_path / "exchange_rates.csv"
    if not path.exists():
        return None
    with path.open(newline="", encoding="utf-8") as fh:
        found = {(row.get("currency") or "").strip() for row in csv.DictReader(fh)}
    found.add(settings.reporting_currency)
    return sorted(c for c in found if c)


def stage_mapping_sql(settings: Settings) -> str:
    """The seed as an inline ``(values ...)`` relation ``(source, stage, stage_category)``.

    Inline rather than a registered frame so any cursor can read it (the row frame streams on its
    own cursor); the seed is a few dozen rows.
    """

    def lit(value: str | None) -> str:
        return "null" if value is None else "'" + value.replace("'", "''") + "'"

    rows = [
        f"({lit(r.get('source'))}, {lit(r.get('stage'))}, {lit(r.get('stage_category'))})"
        for r in load_stage_mapping(settings)
    ] or ["(null, null, null)"]
    return f"(values {', '.join(rows)}) as stage_mapping(source, stage, stage_category)"


def _parameters(conn: duckdb.DuckDBPyConnection, settings: Settings, checked_at: datetime) -> dict[str, Any]:
    """Suite parameters; None means "reference data missing": checks using it are skipped (warned)."""
    mapping = load_stage_mapping(settings)
    params: dict[str, Any] = {"max_modified_at": checked_at + FUTURE_SKEW}
    for source in ("zoho", "fxiaoke"):
        stages = sorted({r["stage"] for r in mapping if r.get("source") == source and r.get("stage")})
        params[f"stages_{source}"] = stages or None
        users = USER_TABLES[source]
        qualified = find_table(conn, users)
        params[f"{source}_user_ids"] = (
            [r[0] for r in conn.execute(f"select id from {qualified}").fetchall()] if qualified else None
        )
        # customers resolve against the landed accounts in SQL (see _reference_relations); this
        # flag only says whether they can: without an accounts table those checks are skipped
        params[f"{source}_accounts_landed"] = True if find_table(conn, ACCOUNT_TABLES[source]) else None
    params["currencies"] = known_currencies(settings)
    return params


def _reference_relations(conn: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, str]:
    """What the row-level SQL templates join against: the stage seed and the landed accounts."""
    relations = {"stage_mapping": stage_mapping_sql(settings)}
    for source, table in ACCOUNT_TABLES.items():
        relations[f"{source}_accounts"] = find_table(conn, table) or _NO_ACCOUNTS
    return relations


# --- GX context ----------------------------------------------------------------------------------


def gx_output_dir(settings: Settings) -> Path:
    return settings.home_dir / "gx"


def _runtime_config(settings: Settings) -> dict:
    """The committed context config with every writable store moved out of the repository.

    Suites are read from the committed JSON into an in-memory store (so nothing a run does can
    rewrite them); validation results and the Data Docs site go under ``<home>/gx``.
    """
    config = yaml.safe_load((settings.expectations_dir / "great_expectations.yml").read_text("utf-8"))
    out = gx_output_dir(settings)
    in_memory = {"class_name": "InMemoryStoreBackend"}
    stores = config["stores"]
    stores["expectations_store"]["store_backend"] = dict(in_memory)
    stores["checkpoint_store"]["store_backend"] = dict(in_memory)
    stores["validation_definition_store"]["store_backend"] = dict(in_memory)
    stores["validation_results_store"]["store_backend"] = {
        "class_name": "TupleFilesystemStoreBackend",
        "base_directory": str(out / "validations"),
    }
    site = config["data_docs_sites"][DATA_DOCS_SITE]
    site["store_backend"] = {
        "class_name": "TupleFilesystemStoreBackend",
        "base_directory": str(out / "data_docs"),
    }
    config.pop("config_variables_file_path", None)
    config.pop("plugins_directory", None)
    config["analytics_enabled"] = False
    return config


def _runtime_context(settings: Settings) -> AbstractDataContext:
    import great_expectations as gx

    gx_output_dir(settings).mkdir(parents=True, exist_ok=True)
    return gx.get_context(mode="ephemeral", project_config=_runtime_config(settings))


def load_suite_json(settings: Settings, name: str) -> dict:
    path = settings.expectations_dir / "expectations" / f"{name}.json"
    return json.loads(path.read_text("utf-8"))


def expectation_frame(exp: dict) -> str:
    return str((exp.get("meta") or {}).get("frame") or "row")


def _expectation_columns(exp: dict) -> set[str]:
    kwargs = exp.get("kwargs", {})
    cols = {kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)}
    cols |= set(kwargs.get("column_list") or [])
    return cols


def _parameter_names(value: Any) -> set[str]:
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            return {str(value["$PARAMETER"])}
        return set().union(*(_parameter_names(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_parameter_names(v) for v in value)) if value else set()
    return set()


# --- one suite -----------------------------------------------------------------------------------


def _run_suite(
    conn: duckdb.DuckDBPyConnection,
    context: AbstractDataContext,
    settings: Settings,
    name: str,
    source: SuiteSource,
    *,
    run_id: str,
    checked_at: datetime,
    params: dict[str, Any],
    row_scope: str,
) -> tuple[list[CheckResult], dict[str, int] | None]:
    qualified = find_table(conn, source.table)
    if qualified is None and source.table_level != "reconciliation":
        if table_expected(conn, settings, source.table):
            return [
                _setup_failure(name, "table_exists", f"table {source.table} does not exist", source.table)
            ], None
        log.info("suite %s skipped: %s does not exist and is not expected", name, source.table)
        return [], None
    try:
        spec = load_suite_json(settings, source.json_name or name)
    except (OSError, ValueError) as exc:
        return [_setup_failure(name, "suite_loads", f"{type(exc).__name__}: {exc}", source.table)], None
    if source.json_name:
        spec = {**spec, "name": name}
    results: list[CheckResult] = []
    usable: list[dict] = []
    for exp in spec["expectations"]:
        needs = _parameter_names(exp.get("kwargs", {})) | set((exp.get("meta") or {}).get("requires") or [])
        missing = sorted(p for p in needs if params.get(p) is None)
        if missing:
            results.append(_skipped(name, source.table, exp, f"reference data missing: {', '.join(missing)}"))
        else:
            usable.append(exp)
    sql_template = source.sql
    if sql_template is None and source.columns and qualified is not None:
        present = set(_columns(conn, qualified))
        picked = [c for c in source.columns if c in present]
        picked += [f"{expr} as {col}" for col, expr, needs in source.computed if set(needs) <= present]
        readable = {c for c in source.columns if c in present} | {
            col for col, _, needs in source.computed if set(needs) <= present
        }
        kept = []
        for exp in usable:
            absent = sorted(c for c in _expectation_columns(exp) if c not in readable)
            if absent and expectation_frame(exp) != "table":
                results.append(
                    _skipped(name, source.table, exp, f"column(s) {', '.join(absent)} not in the table")
                )
            else:
                kept.append(exp)
        usable = kept
        sql_template = f"select {', '.join(picked) or '1 as no_columns'} from {{table}}" if picked else None
    table_exps = [e for e in usable if expectation_frame(e) == "table"]
    row_exps = [e for e in usable if expectation_frame(e) != "table"]

    table_row: dict[str, Any] = {}
    if source.table_level and table_exps:
        try:
            table_row, setup = _table_level(conn, settings, name, source, qualified, run_id, checked_at)
        except duckdb.Error as exc:
            reason = f"aggregating {qualified} failed: {exc}"
            return [*results, _setup_failure(name, "query_succeeds", reason, source.table)], None
        results += setup
        table_results = _validate(
            context,
            f"{name}__table",
            spec,
            table_exps,
            [pd.DataFrame([table_row])],
            (),
            params,
            run_id,
            checked_at,
            source.table,
        )
        for r in table_results:  # the aggregate itself is the observation, plus its context
            if r.column in table_row:
                r.observed_value = _jsonable(table_row[r.column])
                r.unexpected_examples = []
                r.unexpected_count = None
                r.details["table_level"] = _jsonable(table_row)
        results += table_results

    qcounts = None
    if sql_template and row_exps:
        where = _scope_predicate(conn, source, row_scope)
        sql = sql_template.format(table=qualified, where=where, **_reference_relations(conn, settings))
        evaluated: list[str] = []

        def frames() -> Iterator[pd.DataFrame]:
            for frame in _chunks(conn, sql, {"run_id": run_id} if "$run_id" in where else None):
                if "id" in frame.columns:
                    evaluated.extend(str(i) for i in frame["id"].tolist())
                yield frame

        row_results = _validate(
            context,
            name,
            spec,
            row_exps,
            frames(),
            source.key_columns,
            params,
            run_id,
            checked_at,
            source.table,
        )
        if any(r.expectation == "suite_runs" for r in row_results) and not evaluated:
            results += row_results
            return results, None
        live_rows = table_row.get("live_rows")
        row_results = [_escalate(r, live_rows) for r in row_results]
        results += row_results
        if source.quarantine:
            qcounts = _quarantine(conn, name, source, run_id, evaluated, row_results, checked_at)
    return results, qcounts


def _scope_predicate(conn: duckdb.DuckDBPyConnection, source: SuiteSource, row_scope: str) -> str:
    if source.layer != "raw":
        return "true"
    if row_scope == "all":
        return _LIVE
    table_name = source.table.split(".", 1)[1]
    held = ""
    if _exists(conn, "ops", "quarantine"):
        held = (
            " or d.id in (select id from ops.quarantine where raw_table = "
            f"'{table_name}' and released_at is null)"
        )
    return f"{_LIVE} and (d.run_id = $run_id{held})"


def _chunks(conn: duckdb.DuckDBPyConnection, sql: str, parameters: dict | None) -> Iterator[pd.DataFrame]:
    """The row-level frame, yielded in :data:`CHUNK_ROWS` pieces (at least one, possibly empty).

    It streams on its own cursor, so the connection stays usable while a frame is half read.
    """
    cursor = conn.cursor()
    try:
        result = cursor.execute(sql, parameters) if parameters else cursor.execute(sql)
        vectors = max(1, CHUNK_ROWS // 2048)  # DuckDB hands out vectors of 2048 rows
        first = True
        while True:
            frame = result.fetch_df_chunk(vectors)
            if frame.empty and not first:
                return
            yield frame
            if frame.empty:
                return
            first = False
    finally:
        cursor.close()


def _validate(
    context: AbstractDataContext,
    suite_name: str,
    spec: dict,
    expectations: list[dict],
    frames: Iterable[pd.DataFrame],
    key_columns: Sequence[str],
    params: dict[str, Any],
    run_id: str,
    checked_at: datetime,
    table: str,
) -> list[CheckResult]:
    """Validate every frame with one GX suite; merge the per-chunk results into one per expectation."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    try:
        suite = context.suites.add(
            gx.ExpectationSuite(
                name=suite_name,
                expectations=[_gx_expectation(e) for e in expectations],
                meta=spec.get("meta") or {},
            )
        )
        datasource = context.data_sources.add_or_update_pandas(f"salesops_{suite_name}")
        asset = datasource.add_dataframe_asset(suite_name)
        batch = asset.add_batch_definition_whole_dataframe("whole_table")
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite_name}_gate", data=batch, suite=suite)
        )
        per_chunk: list[list[CheckResult]] = []
        for frame in frames:
            outcome = definition.run(
                batch_parameters={"dataframe": frame},
                expectation_parameters=params,
                result_format={
                    "result_format": "COMPLETE",
                    "partial_unexpected_count": EXAMPLE_COUNT,
                    "unexpected_index_column_names": [c for c in key_columns if c in frame.columns],
                    "return_unexpected_index_query": False,
                },
                run_id=RunIdentifier(run_name=run_id, run_time=checked_at),
            )
            per_chunk.append(
                [
                    _check_result(suite_name.removesuffix("__table"), table, len(frame), r)
                    for r in outcome.results
                ]
            )
    except Exception as exc:  # a broken suite must not hide the other suites' results
        log.exception("suite %s could not run", suite_name)
        return [
            _setup_failure(
                suite_name.removesuffix("__table"), "suite_runs", f"{type(exc).__name__}: {exc}", table
            )
        ]
    return _merge(per_chunk)


def _gx_expectation(spec: dict) -> Any:
    """A GX expectation object from its JSON (type, kwargs, meta, description, severity)."""
    from great_expectations.expectations.registry import get_expectation_impl

    impl = get_expectation_impl(spec["type"])
    extra = {k: spec[k] for k in ("meta", "description") if spec.get(k) is not None}
    return impl(**spec["kwargs"], **extra)


def _merge(per_chunk: list[list[CheckResult]]) -> list[CheckResult]:
    if len(per_chunk) == 1:
        return per_chunk[0]
    merged = []
    for parts in zip(*per_chunk, strict=True):
        first = parts[0]
        counts = [p.unexpected_count for p in parts if p.unexpected_count is not None]
        rows = sum(int(p.details.get("rows") or 0) for p in parts)
        unexpected = sum(counts) if counts else None
        examples = [e for p in parts for e in p.unexpected_examples][:EXAMPLE_COUNT]
        observed = first.observed_value
        if unexpected is not None:
            observed = f"{unexpected} unexpected of {rows} rows ({len(parts)} chunks)"
        merged.append(
            CheckResult(
                suite=first.suite,
                expectation=first.expectation,
                column=first.column,
                severity=first.severity,
                success=all(p.success for p in parts),
                observed_value=observed,
                unexpected_count=unexpected,
                unexpected_examples=examples,
                description=first.description,
                details={**first.details, "rows": rows, "chunks": len(parts)},
                offending=[o for p in parts for o in p.offending],
            )
        )
    return merged


def _escalate(result: CheckResult, live_rows: Any) -> CheckResult:
    """A quarantining check is a warning until its offending rows exceed ``critical_share`` of the table."""
    meta = result.details.get("meta") or {}
    if not meta.get("quarantine") or result.success:
        return result
    share_limit = float(meta.get("critical_share", DEFAULT_CRITICAL_SHARE))
    denominator = max(int(live_rows or 0), int(result.details.get("rows") or 0), 1)
    share = (result.unexpected_count or 0) / denominator
    result.details["offending_share"] = round(share, 6)
    if share > share_limit:
        result.severity = "critical"
        result.details["escalated"] = True
        result.description = (
            f"{result.description} — {share:.1%} of rows (> {share_limit:.0%}): systemic, blocks the run"
        )
    else:
        result.severity = "warning"
        result.description = f"{result.description} — rows quarantined"
    return result


def _quarantine(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    source: SuiteSource,
    run_id: str,
    evaluated: list[str],
    results: list[CheckResult],
    checked_at: datetime,
) -> dict[str, int]:
    offences: list[quarantine_store.Offence] = []
    checked: set[str] = set()
    for r in results:
        if not (r.details.get("meta") or {}).get("quarantine"):
            continue
        checked.add(r.key)
        if r.success or r.details.get("error"):
            continue
        for row in r.offending:
            rid = row.get("id") if isinstance(row, dict) else None
            if rid is None:
                continue
            value = row.get(r.column) if r.column else None
            reason = (
                f"{_base_description(r)}: {r.column}={_jsonable(value)!r}"
                if r.column
                else _base_description(r)
            )
            offences.append(quarantine_store.Offence(str(rid), r.key, reason, r.severity))
    source_name, obj = source.source_object
    counts = quarantine_store.apply_quarantine(
        conn,
        run_id=run_id,
        source=source_name,
        obj=obj,
        raw_table=source.table,
        evaluated_ids=evaluated,
        offences=offences,
        checked_expectations=checked,
        now=checked_at,
    )
    if counts["quarantined"] or counts["released"]:
        log.warning("suite %s: %s", name, counts)
    return counts


def _base_description(r: CheckResult) -> str:
    return (r.details.get("base_description") or r.description or r.expectation).strip()


# --- table-level aggregates (pushed down to SQL) -------------------------------------------------


def _table_level(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    name: str,
    source: SuiteSource,
    qualified: str,
    run_id: str,
    checked_at: datetime,
) -> tuple[dict[str, Any], list[CheckResult]]:
    if source.table_level == "raw":
        return _raw_table_level(conn, name, source, qualified, run_id, checked_at), []
    if source.table_level == "reconciliation":
        return reconciliation_metrics(conn, settings, name)
    raise ValueError(f"unknown table-level aggregate {source.table_level!r}")


def ensure_raw_table_counts(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("create schema if not exists ops")
    conn.execute(
        """
        create table if not exists ops.raw_table_counts (
            run_id varchar not null,
            checked_at timestamptz not null,
            table_name varchar not null,
            total_rows bigint not null,
            live_rows bigint not null
        )"""
    )


def _raw_table_level(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    source: SuiteSource,
    qualified: str,
    run_id: str,
    checked_at: datetime,
) -> dict[str, Any]:
    """One row of aggregates over the whole raw table, computed by DuckDB (one scan)."""
    row = conn.execute(
        f"""
        select
            count(*) as total_rows,
            count(*) filter (where not coalesce(is_deleted, false)) as live_rows,
            count(id) - count(distinct id) as duplicate_ids,
            count(*) filter (where id is null or trim(id) = '') as missing_ids,
            max(modified_at) as newest_modified_at,
            count(*) filter (where run_id = ?) as rows_loaded_this_run
        from {qualified}
        """,
        [run_id],
    ).fetchall()[0]
    total, live, dups, missing, newest, loaded = row
    ensure_raw_table_counts(conn)
    prev = conn.execute(
        """
        select live_rows from ops.raw_table_counts
        where table_name = ? and run_id <> ?
        order by checked_at desc limit 1
        """,
        [source.table, run_id],
    ).fetchall()
    prev = prev[0] if prev else None
    conn.execute(
        "delete from ops.raw_table_counts where table_name = ? and run_id = ?", [source.table, run_id]
    )
    conn.execute(
        "insert into ops.raw_table_counts values (?, ?, ?, ?, ?)",
        [run_id, checked_at, source.table, total, live],
    )
    prev_live = prev[0] if prev else None
    feed_dups = None
    if _exists(conn, "ops", "ingest_runs"):
        src, obj = source.source_object
        feed = conn.execute(
            """
            select sum(rows_received - rows_inserted - rows_updated - rows_deleted - rows_unchanged)
            from ops.ingest_runs where run_id = ? and source = ? and object = ?
            """,
            [run_id, src, obj],
        ).fetchall()[0]
        feed_dups = int(feed[0]) if feed and feed[0] is not None else None
    age = None
    if newest is not None:
        newest_utc = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
        age = round((checked_at - newest_utc).total_seconds() / 3600, 3)
    return {
        "total_rows": int(total),
        "live_rows": int(live),
        "previous_live_rows": prev_live,
        "live_ratio": (live / prev_live) if prev_live else None,
        "duplicate_ids": int(dups),
        "missing_ids": int(missing),
        "newest_modified_at": newest,
        "newest_age_hours": age,
        "rows_loaded_this_run": int(loaded),
        "feed_duplicate_ids": feed_dups,
    }


#: Statement totals: the first of these columns a statement table has is its total.
STATEMENT_TOTAL_COLUMNS = (
    "total_commission_amount",
    "commission_total",
    "total_commission",
    "statement_total",
    "total_amount",
    "commission_amount",
)
#: Additive columns compared between a team roll-up and the sum of its reps' scorecards.
ROLLUP_COLUMNS = ("won_amount", "target_amount", "deals_won", "deals_lost", "open_pipeline_amount")


def reconciliation_metrics(
    conn: duckdb.DuckDBPyConnection, settings: Settings, suite: str
) -> tuple[dict[str, Any], list[CheckResult]]:
    """Cross-table numbers of the marts (None where the tables do not exist yet).

    Returns the one-row frame and setup failures for tables that dbt has a model for but that do
    not exist (a failed build must not pass as "nothing to reconcile").
    """
    failures: list[CheckResult] = []
    marts_tables = {
        r[0]: f'"{r[1]}"."{r[0]}"'
        for r in conn.execute(
            "select table_name, table_schema from information_schema.tables where table_schema in "
            f"({', '.join(repr(s) for s in MARTS_SCHEMAS)}) order by table_schema desc"
        ).fetchall()
    }

    def expect(pattern: str, what: str) -> list[str]:
        """Tables matching ``pattern`` that exist; a failure per modelled-but-missing one."""
        modelled = {p.stem for p in model_files(settings, pattern)}
        present = sorted(t for t in marts_tables if Path(t).match(pattern))
        for missing in sorted(modelled - set(present)):
            failures.append(
                _setup_failure(
                    suite,
                    "table_exists",
                    f"{what}: marts.{missing} has a dbt model but does not exist",
                    f"marts.{missing}",
                )
            )
        return present

    row: dict[str, Any] = {
        "commission_statement_max_diff": None,
        "reps_on_plan_without_target": None,
        "team_rollup_max_diff": None,
        "kpi_rates_out_of_bounds": None,
        "closed_statements_changed": None,
    }
    lines = marts_tables.get("fct_commissions")
    if lines is None and model_files(settings, "fct_commissions"):
        failures.append(
            _setup_failure(
                suite, "table_exists", "marts.fct_commissions does not exist", "marts.fct_commissions"
            )
        )

    # Σ commission lines = Σ statement totals, per statement key.
    statements = expect("*commission*statement*", "commission statements")
    if lines and statements:
        diffs = []
        line_cols = set(_columns(conn, lines))
        for table in statements:
            qualified = marts_tables[table]
            cols = _columns(conn, qualified)
            total = next((c for c in STATEMENT_TOTAL_COLUMNS if c in cols), None)
            if total is None:
                failures.append(
                    _setup_failure(
                        suite,
                        "statement_total_column",
                        f"marts.{table} has none of {STATEMENT_TOTAL_COLUMNS}",
                        f"marts.{table}",
                    )
                )
                continue
            keys = [c for c in ("rep_id", "period_month") if c in cols and c in line_cols] or ["'all'"]
            key_sql = ", ".join(f"{k} as k{i}" for i, k in enumerate(keys))
            group = ", ".join(str(i + 1) for i in range(len(keys)))
            join = " and ".join(f"l.k{i} is not distinct from s.k{i}" for i in range(len(keys)))
            diff = conn.execute(
                f"""
                with l as (select {key_sql}, sum(commission_amount) as amount from {lines} group by {group}),
                     s as (select {key_sql}, sum({total}) as amount from {qualified} group by {group})
                select max(abs(coalesce(l.amount, 0) - coalesce(s.amount, 0)))
                from l full outer join s on {join}
                """
            ).fetchall()[0][0]
            diffs.append(float(diff or 0))
        row["commission_statement_max_diff"] = max(diffs) if diffs else None
        row["closed_statements_changed"] = _closed_statements_changed(conn, marts_tables, statements)

    # Every rep paid under a plan in a month has a target for that month.
    targets = marts_tables.get("fct_rep_targets_monthly") or marts_tables.get("fct_sales_targets")
    if lines and targets:
        row["reps_on_plan_without_target"] = int(
            conn.execute(
                f"""
                select count(*) from (select distinct rep_id, period_month from {lines}) as c
                where not exists (
                    select 1 from {targets} as t
                    where t.rep_id = c.rep_id and t.period_month = c.period_month and t.target_amount > 0
                )
                """
            ).fetchall()[0][0]
        )

    # Σ of a team roll-up = Σ of its reps: separate team tables (fct_team_*) and levelled
    # scorecards (a scorecard_level column: rep | team | region | company rows in one table).
    diffs = []
    rollups = expect("*team*", "team roll-ups")
    scorecard = marts_tables.get("fct_rep_scorecard")
    if scorecard and rollups:
        rep_cols = set(_columns(conn, scorecard))
        for table in rollups:
            qualified = marts_tables[table]
            cols = set(_columns(conn, qualified))
            keys = [k for k in ("team_name", "period_month") if k in cols and k in rep_cols]
            measures = [c for c in ROLLUP_COLUMNS if c in cols and c in rep_cols]
            if "team_name" not in keys or not measures:
                log.info(
                    "marts.%s: no team_name key or measure shared with the scorecard: not a roll-up", table
                )
                continue
            diffs.append(_rollup_diff(conn, f"{qualified}", f"{scorecard}", keys, measures, "true", "true"))
    levelled = [
        t
        for t, qualified in marts_tables.items()
        if "scorecard_level" in _columns(conn, qualified) and "team_name" in _columns(conn, qualified)
    ]
    for table in levelled:
        qualified = marts_tables[table]
        cols = set(_columns(conn, qualified))
        measures = [c for c in ROLLUP_COLUMNS if c in cols]
        period = [c for c in ("period_grain", "period_start", "period_month") if c in cols]
        for level, level_keys in (("team", ["team_name"]), ("region", ["region_name"]), ("company", [])):
            keys = period + [k for k in level_keys if k in cols]
            if not measures or not keys:
                continue
            diffs.append(
                _rollup_diff(
                    conn,
                    qualified,
                    qualified,
                    keys,
                    measures,
                    f"scorecard_level = '{level}'",
                    "scorecard_level = 'rep'",
                    only_parents=True,
                )
            )
    row["team_rollup_max_diff"] = max(diffs) if diffs else None

    # Every KPI rate column of every mart is between 0 and 1.
    rate_columns = conn.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        f"where table_schema in ({', '.join(repr(s) for s in MARTS_SCHEMAS)}) "
        "and (column_name like '%\\_rate' escape '\\' or column_name = 'rate') "
        "and column_name not like '%exchange%' and column_name not like '%fx%' "
        "and data_type not in ('VARCHAR')"
    ).fetchall()
    if rate_columns:
        parts = [
            f'select count(*) as n from "{s}"."{t}" where "{c}" < 0 or "{c}" > 1' for s, t, c in rate_columns
        ]
        row["kpi_rates_out_of_bounds"] = int(
            conn.execute(f"select sum(n) from ({' union all '.join(parts)})").fetchall()[0][0] or 0
        )
    return row, failures


def _closed_statements_changed(
    conn: duckdb.DuckDBPyConnection, marts_tables: dict[str, str], statements: list[str]
) -> int | None:
    """Statements of a closed period whose total differs from when the gate first saw them closed.

    The first time a statement is seen with ``period_status = 'closed'`` its total is recorded in
    ``ops.closed_statement_snapshots``; it is never overwritten, so a later change (a deal edited
    after the period was paid) stays visible until finance reopens the period on purpose (delete
    its snapshot rows). None when no statement table has ``period_status``.
    """
    conn.execute("create schema if not exists ops")
    conn.execute(
        """
        create table if not exists ops.closed_statement_snapshots (
            statement_table varchar not null,
            statement_key varchar not null,
            total_amount decimal(38, 6),
            recorded_at timestamptz not null
        )"""
    )
    changed, checked = 0, False
    for table in statements:
        qualified = marts_tables[table]
        cols = _columns(conn, qualified)
        total = next((c for c in STATEMENT_TOTAL_COLUMNS if c in cols), None)
        key = "statement_id" if "statement_id" in cols else None
        if total is None or key is None or "period_status" not in cols:
            continue
        checked = True
        current = (
            f"(select cast({key} as varchar) as k, {total} as total from {qualified} "
            "where period_status = 'closed')"
        )
        changed += int(
            conn.execute(
                f"""
                select count(*) from ops.closed_statement_snapshots as s
                left join {current} as c on c.k = s.statement_key
                where s.statement_table = ? and (c.k is null or c.total is distinct from s.total_amount)
                """,
                [table],
            ).fetchall()[0][0]
        )
        conn.execute(
            f"""
            insert into ops.closed_statement_snapshots
            select ?, c.k, c.total, now() from {current} as c
            where not exists (
                select 1 from ops.closed_statement_snapshots as s
                where s.statement_table = ? and s.statement_key = c.k
            )
            """,
            [table, table],
        )
    return changed if checked else None


def _rollup_diff(
    conn: duckdb.DuckDBPyConnection,
    parent: str,
    child: str,
    keys: list[str],
    measures: list[str],
    parent_filter: str,
    child_filter: str,
    *,
    only_parents: bool = False,
) -> float:
    """Largest absolute difference of any measure between parent rows and the sum of child rows.

    ``only_parents``: compare only the keys the parent level has rows for (a levelled scorecard
    need not build every level for every period).
    """
    key_sql = ", ".join(keys) if keys else "'all' as all_key"
    group = ", ".join(keys) if keys else "1"
    join_keys = keys or ["all_key"]
    sums = ", ".join(f"sum({m}) as {m}" for m in measures)
    join = " and ".join(f"p.{k} is not distinct from c.{k}" for k in join_keys)
    delta = ", ".join(f"abs(coalesce(p.{m}, 0) - coalesce(c.{m}, 0))" for m in measures)
    how = "left join" if only_parents else "full outer join"
    value = conn.execute(
        f"""
        with p as (select {key_sql}, {sums} from {parent} where {parent_filter} group by {group}),
             c as (select {key_sql}, {sums} from {child} where {child_filter} group by {group})
        select max(greatest({delta}, 0)) from p {how} c on {join}
        """
    ).fetchall()[0][0]
    return float(value or 0)


def _skipped(suite: str, table: str, exp: dict, reason: str) -> CheckResult:
    kwargs = exp.get("kwargs", {})
    return CheckResult(
        suite=suite,
        expectation=exp["type"],
        column=_column_of(kwargs),
        severity="warning",
        success=False,
        observed_value=f"not checked: {reason}",
        unexpected_count=None,
        description=f"{exp.get('description') or exp['type']} (not checked: {reason})",
        details={"table": table, "reason": reason, "skipped": True, "meta": exp.get("meta") or {}},
    )


def _setup_failure(
    suite: str, expectation: str, reason: str, table: str, severity: str = "critical"
) -> CheckResult:
    return CheckResult(
        suite=suite,
        expectation=expectation,
        column=None,
        severity=severity,
        success=False,
        observed_value=reason,
        unexpected_count=None,
        description=reason,
        details={"table": table, "reason": reason},
    )


def _check_result(suite: str, table: str, rows: int, r: Any) -> CheckResult:
    config = r.expectation_config
    kwargs = dict(config.kwargs)
    meta = dict(config.meta or {})
    severity = str(meta.get("severity") or "critical").lower()
    result = r.result or {}
    exception = (r.exception_info or {}) if isinstance(r.exception_info, dict) else {}
    error = exception.get("exception_message") if exception.get("raised_exception") else None
    observed = result.get("observed_value")
    if error:
        observed = f"error: {error}"
    elif observed is None and "unexpected_percent" in result:
        pct = result.get("unexpected_percent")
        observed = f"{pct or 0:.2f}% unexpected of {result.get('element_count', rows)}"
    description = getattr(config, "description", None) or ""
    indexed = result.get("unexpected_index_list") or []
    return CheckResult(
        suite=suite,
        expectation=config.type,
        column=_column_of(kwargs),
        severity=severity,
        success=bool(r.success) and not error,
        observed_value=_jsonable(observed),
        unexpected_count=result.get("unexpected_count"),
        unexpected_examples=_examples(result),
        description=description,
        details=_jsonable(
            {
                "table": table,
                "rows": rows,
                "kwargs": {k: v for k, v in kwargs.items() if k != "batch_id"},
                "unexpected_percent": result.get("unexpected_percent"),
                "missing_count": result.get("missing_count"),
                "gx_expectation_id": config.id,
                "error": error,
                "meta": meta,
                "base_description": description,
            }
        ),
        offending=_jsonable(list(indexed)) if indexed and isinstance(indexed[0], dict) else [],
    )


def _column_of(kwargs: dict) -> str | None:
    if "column" in kwargs:
        return kwargs["column"]
    if "column_list" in kwargs:
        return ",".join(kwargs["column_list"])
    if "column_A" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    return None


def _examples(result: dict) -> list:
    """Offending rows with their keys when GX gives them, else offending values."""
    indexed = result.get("partial_unexpected_index_list") or result.get("unexpected_index_list")
    if indexed and isinstance(indexed[0], dict):
        return _jsonable(list(indexed[:EXAMPLE_COUNT]))
    values = result.get("partial_unexpected_list") or []
    return _jsonable(list(values[:EXAMPLE_COUNT]))


def _jsonable(value: Any) -> Any:
    """Plain JSON types for ops.validation_results and the alert (GX hands back numpy/pandas)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        try:
            return _jsonable(value.item())
        except (ValueError, TypeError):
            pass
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


# --- outputs -------------------------------------------------------------------------------------


def _build_data_docs(context: AbstractDataContext, settings: Settings) -> Path | None:
    """Data Docs are a convenience: failing to build them must not fail the gate."""
    try:
        context.build_data_docs(site_names=[DATA_DOCS_SITE])
    except Exception:
        log.exception("building Data Docs failed")
        return None
    index = gx_output_dir(settings) / "data_docs" / "index.html"
    return index if index.exists() else None


def ensure_validation_results_table(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("create schema if not exists ops")
    conn.execute(
        """
        create table if not exists ops.validation_results (
            run_id varchar not null,
            checked_at timestamptz not null,
            suite varchar not null,
            expectation varchar not null,
            column_name varchar,
            severity varchar not null,
            success boolean not null,
            observed_value varchar,
            unexpected_count bigint,
            details json
        )"""
    )


def _store_results(
    conn: duckdb.DuckDBPyConnection, run_id: str, checked_at: datetime, results: Sequence[CheckResult]
) -> None:
    ensure_validation_results_table(conn)
    rows = [
        [
            run_id,
            checked_at,
            r.suite,
            r.expectation,
            r.column,
            r.severity,
            r.success,
            None
            if r.observed_value is None
            else json.dumps(r.observed_value, ensure_ascii=False, default=str),
            r.unexpected_count,
            json.dumps(
                {"description": r.description, "examples": r.unexpected_examples, **r.details},
                ensure_ascii=False,
                default=str,
            ),
        ]
        for r in results
    ]
    if rows:
        conn.executemany(
            """
            insert into ops.validation_results
                (run_id, checked_at, suite, expectation, column_name, severity, success, observed_value,
                 unexpected_count, details)
            values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            rows,
        )


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
