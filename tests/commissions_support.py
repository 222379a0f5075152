"""Shared by tests/commissions: the engine's input tables as dbt builds them, empty."""

from __future__ import annotations

ENGINE_INPUTS = """
create schema intermediate;
create schema marts;
create table intermediate.int_credit_lines (
    credit_id varchar, deal_id varchar, rep_id varchar, credit_kind varchar, credit_basis varchar,
    credit_date date, period_month date, split_share decimal(9,6), original_amount decimal(18,2),
    original_currency varchar, fx_rate decimal(18,8), credit_amount decimal(18,2),
    reversed_on date);
create table intermediate.int_commission_rep_months (
    rep_id varchar, email varchar, role varchar, hired_on date, left_on date, period_month date,
    full_target_amount decimal(18,2), target_amount decimal(18,2));
"""


def create_engine_inputs(conn) -> None:
    """``intermediate.int_credit_lines`` and ``int_commission_rep_months`` (and the schemas)."""
    conn.execute(ENGINE_INPUTS)
