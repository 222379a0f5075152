"""Commissions: plan files, the engine, period close and the estimator.

Entry points:

* ``refresh_commissions(settings, run_date, in_prefect=...)`` - the nightly step: right after
  ``dbt build`` (and before the marts gate), runs ``run_engine`` and rebuilds ``fct_commissions+``.
* ``run_engine(conn, settings, run_date)`` - the nightly step, after dbt built the credits
  (``intermediate.int_credit_lines``, ``int_commission_rep_months``) and before
  ``marts.fct_commissions`` is built; writes ``finance.commission_lines``.
* ``close_period(conn, period)``; the payroll export is :mod:`flows.reports.payroll`.
* ``calculate(book, credits, reps, targets)`` - the engine itself (also behind ``estimate``).
* ``reconcile(conn)`` - reconciliation failures (empty list = reconciled).
"""

from flows.commissions.close import close_period
from flows.commissions.engine import calculate
from flows.commissions.ledger import run_engine
from flows.commissions.lines import Credit, Line, Rep
from flows.commissions.money import money
from flows.commissions.reconcile import reconcile
from flows.commissions.refresh import refresh_commissions
from flows.config.commission_plan import PlanBook, PlanError, load_plan_file

__all__ = [
    "Credit",
    "Line",
    "PlanBook",
    "PlanError",
    "Rep",
    "calculate",
    "close_period",
    "load_plan_file",
    "money",
    "reconcile",
    "refresh_commissions",
    "run_engine",
]
