"""Where each suite's data comes from: the table, the narrow row-level query, the table-level aggregate.

The row-level queries of the raw suites are package data (``flows/quality/sql/<suite>.sql``, with
``{table}``, ``{where}`` and the reference relations as ``str.format`` placeholders); the five
order-to-cash queries share one shape and are composed here by :func:`_o2c_sql`. Raw tables without
a suite of their own get the generic table-level suite (:func:`suite_sources`). docs/quality.md
explains the design.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import duckdb

GENERIC_RAW_SUITE = "raw_generic"
#: Where owners must resolve: deals' owner ids are checked against these users' ids.
USER_TABLES = {"zoho": "raw.zoho_users", "fxiaoke": "raw.fxiaoke_employees"}


@dataclass(frozen=True)
class SuiteSource:
    """Where a suite's data comes from.

    ``table`` is ``schema.table`` (marts are looked up in every schema of :data:`MARTS_SCHEMAS`);
    ``sql`` is the narrow row-level query, selecting ``from {table} as d where {where}`` for raw
    tables (``{where}`` is the live-rows-in-scope predicate) or ``from {table}`` for marts;
    ``table_level`` names the table-level aggregate (``"raw"`` or None). A marts suite also reports
    the dbt tests of its model (``dbt_model``), and every dbt singular test whose ``meta.gate_suite``
    names it; a cross-table suite (``table`` ``"marts.*"``) has no table and no GX expectations of
    its own, only such dbt tests.
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
    #: marts: the dbt model whose tests are reported under this suite.
    dbt_model: str | None = None

    @property
    def cross_table(self) -> bool:
        return self.table.endswith(".*")

    @property
    def layer(self) -> str:
        return "raw" if self.table.startswith("raw.") else "marts"

    @property
    def source_object(self) -> tuple[str, str]:
        """``raw.zoho_deals`` -> ``("zoho", "deals")``."""
        name = self.table.split(".", 1)[1]
        source, _, obj = name.partition("_")
        return source, obj


@cache
def _sql(name: str) -> str:
    """The row-level query template ``flows/quality/sql/<name>.sql`` (package data)."""
    return resources.files("flows.quality").joinpath("sql", f"{name}.sql").read_text("utf-8")


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
# by :func:`flows.quality.reference.reference_relations`.

#: Landed account tables the order-to-cash suites resolve customers against.
ACCOUNT_TABLES = {"zoho": "raw.zoho_accounts", "fxiaoke": "raw.fxiaoke_accounts"}
NO_ACCOUNTS = "(select cast(null as varchar) as id, cast(null as boolean) as is_deleted where false)"


def _unresolved(expr: str, accounts: str) -> str:
    """``expr`` when it is set and no live row of ``accounts`` has that id, else NULL."""
    return (
        f"case when nullif({expr}, '') is not null and not exists ("
        f"select 1 from {accounts} as a where a.id = {expr} and not coalesce(a.is_deleted, false)"
        f") then {expr} end"
    )


#: Text the gate's "amount is numeric" check accepts (the suites' regex).
_NUMERIC_TEXT = r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"


def _unstorable(raw: str) -> str:
    """The money text when it is numeric but the staging models' cast to DECIMAL(18,2) cannot hold it.

    ``1e309`` or ``1e20`` pass the numeric check and would stop the whole dbt build at the staging
    cast (``macros/money.sql`` ``to_money``): the same cast here quarantines the row instead.
    """
    text = f"nullif(trim({raw}), '')"
    return (
        f"case when regexp_full_match({text}, '{_NUMERIC_TEXT}') "
        f"and try_cast({raw} as decimal(18, 2)) is null then {text} end"
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
        f"{_unstorable(amount)} as unstorable_amount",
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
        _unstorable("d.record->>'Amount_Paid'") + " as unstorable_amount_paid",
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
    "raw_zoho_deals": SuiteSource(
        "raw.zoho_deals", _sql("raw_zoho_deals"), table_level="raw", quarantine=True
    ),
    "raw_fxiaoke_opportunities": SuiteSource(
        "raw.fxiaoke_opportunities", _sql("raw_fxiaoke_opportunities"), table_level="raw", quarantine=True
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
    "raw_zoho_accounts": SuiteSource("raw.zoho_accounts", _sql("raw_zoho_accounts"), table_level="raw"),
    "raw_fxiaoke_accounts": SuiteSource(
        "raw.fxiaoke_accounts", _sql("raw_fxiaoke_accounts"), table_level="raw"
    ),
    "raw_zoho_contacts": SuiteSource("raw.zoho_contacts", _sql("raw_zoho_contacts"), table_level="raw"),
    "raw_zoho_users": SuiteSource("raw.zoho_users", _sql("raw_zoho_users"), table_level="raw"),
    "raw_fxiaoke_employees": SuiteSource(
        "raw.fxiaoke_employees", _sql("raw_fxiaoke_employees"), table_level="raw"
    ),
    "marts_rep_scorecard": SuiteSource(
        "marts.fct_rep_scorecard",
        None,
        ("rep_id", "period_month"),
        dbt_model="fct_rep_scorecard",
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
        dbt_model="fct_commissions",
        columns=("commission_line_id",),
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
        dbt_model="fct_rep_targets_monthly",
        columns=("rep_id", "period_month", "target_amount", "actual_amount", "attainment"),
    ),
    "marts_commission_statements": SuiteSource(
        "marts.fct_commission_statements",
        None,
        ("statement_id",),
        dbt_model="fct_commission_statements",
        columns=("statement_id",),
    ),
    # Cross-table checks (commission statements, team roll-ups, targets, KPI rates, closed periods):
    # dbt singular tests in dbt_project/tests/reconciliation/ (meta.gate_suite: marts_reconciliation).
    "marts_reconciliation": SuiteSource("marts.*", None, ()),
}


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
