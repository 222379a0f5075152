"""The engine's inputs as dbt built them: credits, reps and their prorated monthly targets, the
effective-dated hierarchy (roll-up credit to every level above a rep).

One query reads each credit with what SPIF filters look at (the deal's product and industry) and
the anchor of invoice-based clawback windows (the deal's first invoice date), so every credit is
built once: building them and then copying each to add those fields took half of the nightly
engine's time at 20k deals (docs/bench.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date
from decimal import Decimal
from operator import attrgetter

from flows.commissions.hierarchy import Hierarchy, HierarchyVersion, level_of, with_rollups
from flows.commissions.lines import Credit, Rep
from flows.commissions.tables import dict_rows, find_table

# decimals travel as text and become Decimal here (one per distinct value): DuckDB's own Decimal
# conversion cost more than the rest of reading the credits (docs/commission_engine.md)
CREDIT_COLUMNS = (
    "c.credit_id, c.deal_id, c.rep_id, c.credit_date, cast(c.credit_amount as varchar) as credit_amount, "
    "c.credit_kind, cast(c.split_share as varchar) as split_share, "
    "cast(c.original_amount as varchar) as original_amount, c.original_currency, "
    "cast(c.fx_rate as varchar) as fx_rate, c.reversed_on, c.credit_basis"
)


def engine_tables(conn) -> tuple[str, str]:
    """The quoted names of the credits and the rep-months tables dbt built for the engine."""
    credits_table = find_table(conn, "intermediate", "int_credit_lines")
    months_table = find_table(conn, "intermediate", "int_commission_rep_months")
    if credits_table is None or months_table is None:
        raise RuntimeError(
            "run dbt first: intermediate.int_credit_lines / int_commission_rep_months are missing"
        )
    return credits_table, months_table


def read_reps(conn, months_table: str) -> dict[str, Rep]:
    """The reps of the rep-months table (a rep's last row wins, as in :func:`read_inputs`)."""
    sql = f"select rep_id, email, role, hired_on, left_on from {months_table}"
    return {r[0]: Rep(*r) for r in conn.execute(sql).fetchall()}


def read_inputs(conn) -> tuple[list[Credit], dict[str, Rep], dict[tuple[str, date], Decimal]]:
    """Credits (``intermediate.int_credit_lines``), reps and their monthly targets, already
    prorated by the targets mart (``intermediate.int_commission_rep_months``), as dbt built them.
    Roll-up credit goes to every level above the rep (:mod:`flows.commissions.hierarchy`)."""
    credits_table, months_table = engine_tables(conn)
    reps: dict[str, Rep] = {}
    targets: dict[tuple[str, date], Decimal] = {}
    for r in dict_rows(conn, f"select * from {months_table}"):
        reps[r["rep_id"]] = Rep(r["rep_id"], r["email"], r["role"], r["hired_on"], r["left_on"])
        if r["target_amount"] is not None:
            targets[(r["rep_id"], r["period_month"])] = r["target_amount"]
    hierarchy = read_hierarchy(conn, reps)
    # with a hierarchy, the roll-up credits are derived from the direct ones (with_rollups
    # replaces any given): the given ones are not read
    only_direct = "where c.credit_kind = 'direct'" if hierarchy is not None else ""
    sql = f"{credits_select(conn, credits_table, only_direct)} order by c.credit_id"
    credits = credits_from_rows(conn.execute(sql).fetchall())
    if hierarchy is not None:  # roll-up credit to every level, as of each credit date
        credits = sorted(with_rollups(credits, hierarchy), key=attrgetter("credit_id"))
    return credits, reps, targets


def credits_select(conn, credits_table: str, where: str = "") -> str:
    """The query of the credits with their deal attributes, in the column order
    :func:`credits_from_rows` reads (also what the nightly stages once, :mod:`.chunks`)."""
    attributes, joins = deal_joins(conn)
    level = "cast(null as integer) as level"
    return f"select {CREDIT_COLUMNS}, {attributes}, {level} from {credits_table} as c {joins} {where}"


class _Decimals(dict):
    """Text -> Decimal, each distinct text converted once (amounts, shares and rates repeat)."""

    def __missing__(self, text: str) -> Decimal:
        value = self[text] = Decimal(text)
        return value


def credits_from_rows(rows: list[tuple]) -> list[Credit]:
    """Credits from rows of ``CREDIT_COLUMNS`` + product, industry, invoice date (the deal's
    attributes as :func:`flows.commissions.spif.with_deal_attributes` gives them) + the roll-up
    level (NULL: from the id), built with positional arguments: ``Credit``'s field order is the
    query's column order."""
    dec = _Decimals({None: None})
    tags: dict[tuple, tuple[tuple[str, str], ...]] = {}
    out = []
    for (
        cid,
        deal,
        rep,
        day,
        amount,
        kind,
        share,
        orig,
        cur,
        fx,
        rev,
        basis,
        product,
        industry,
        inv,
        lvl,
    ) in rows:
        pair = (product, industry)
        if pair not in tags:
            tags[pair] = tuple((k, str(v)) for k, v in (("product", product), ("industry", industry)) if v)
        level = lvl if lvl is not None else level_of(cid) if kind == "rollup" else 0
        out.append(
            Credit(
                cid,
                deal,
                rep,
                day,
                dec[amount],
                kind,
                dec[share],
                dec[orig],
                cur,
                dec[fx],
                rev,
                basis,
                level,
                tags[pair],
                inv,
            )
        )
    return out


def deal_joins(conn) -> tuple[str, str]:
    """(product, industry, first invoice date) columns and the joins giving them, per deal (one
    row per deal: a credit is never repeated); NULL where the mart or its column is missing."""
    product = industry = "cast(null as varchar)"
    invoice = "cast(null as date)"
    joins = []
    deals, customers = find_table(conn, "marts", "fct_deals"), find_table(conn, "marts", "dim_customers")
    if deals is not None and "product_name" in _columns(conn, deals):
        ind, join = "cast(null as varchar)", ""
        if customers and {"account_id", "industry_standard"} <= _columns(conn, customers):
            ind = "coalesce(cu.industry_standard, cu.industry)"
            join = f"left join {customers} as cu on cu.account_id = d.account_id"
        joins.append(
            "left join (select d.deal_id, any_value(d.product_name) as product, "
            f"any_value({ind}) as industry from {deals} as d {join} group by d.deal_id) as attrs "
            "on attrs.deal_id = c.deal_id"
        )
        product, industry = "attrs.product", "attrs.industry"
    invoices = find_table(conn, "intermediate", "int_deal_invoice_dates")
    if invoices is not None:  # the anchor of clawback windows counted from the invoice
        joins.append(
            f"left join (select deal_id, any_value(first_invoice_date) as first_invoice_date "
            f"from {invoices} group by deal_id) as inv on inv.deal_id = c.deal_id"
        )
        invoice = "inv.first_invoice_date"
    return f"{product} as product, {industry} as industry, {invoice} as invoice_date", " ".join(joins)


def _columns(conn, table: str) -> set[str]:
    return {d[0] for d in conn.execute(f"select * from {table} limit 0").description}


def read_hierarchy(conn, reps: dict[str, Rep]) -> Hierarchy | None:
    """The effective-dated hierarchy dbt built (``marts.dim_sales_rep_history``); people above
    the reps who have no rep-month row (a director without a target) are added to ``reps`` with
    their current email, role and dates, so that their own plan assignment applies."""
    table = find_table(conn, "marts", "dim_sales_rep_history")
    if table is None:
        return None
    versions = []
    roles: dict[str, list[tuple[date, date | None, str]]] = defaultdict(list)
    for r in dict_rows(conn, f"select * from {table} order by rep_id, valid_from"):
        versions.append(HierarchyVersion(r["rep_id"], r["manager_id"], r["valid_from"], r["valid_to"]))
        if r["role"]:
            roles[r["rep_id"]].append((r["valid_from"], r["valid_to"], r["role"]))
        if r["is_current"] and r["rep_id"] not in reps:
            reps[r["rep_id"]] = Rep(r["rep_id"], r["email"], r["role"], r["hired_on"], r["left_on"])
    for rep_id, history in roles.items():  # each credit's plan: the role held on the credit date
        if rep_id in reps:
            reps[rep_id] = replace(reps[rep_id], roles=tuple(history))
    return Hierarchy.of(versions)
