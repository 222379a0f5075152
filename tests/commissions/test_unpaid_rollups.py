"""Which managers' roll-up credits the nightly leaves out (issue 14): only those no assignment
could ever pay, the file never names, and with no closed line - in every spelling of the id."""

from __future__ import annotations

from datetime import date

import yaml

from flows.commissions.hierarchy import Hierarchy, HierarchyVersion
from flows.commissions.lines import Rep
from flows.commissions.plan_lookup import PlanLookup
from flows.commissions.unpaid_rollups import unpaid_rollups
from flows.config.commission_plan import load_plan_file

PLAN = """
plans:
  - plan_id: AE
    version: 1
    effective_from: 2026-01-01
    currency: USD
    components:
      - {component: bookings, type: flat, rate: 0.05}
assignments:
  - {plan_id: AE, role: rep, valid_from: 2026-01-01}
"""
START = date(2025, 1, 1)
HIERARCHY = Hierarchy.of(
    [
        HierarchyVersion("ann", "mia", START),
        HierarchyVersion("mia", "zed", START),
        HierarchyVersion("bob", "Kim", START),
    ]
)


def _book(tmp_path, assignments: list[dict] | None = None) -> PlanLookup:
    doc = yaml.safe_load(PLAN)
    if assignments is not None:
        doc["assignments"] += assignments
    path = tmp_path / "commission_plan.yml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return PlanLookup(load_plan_file(path))


def _reps() -> dict[str, Rep]:
    return {
        "ann": Rep("ann", "ann@example.com", "rep"),
        "bob": Rep("bob", "bob@example.com", "rep"),
        "mia": Rep("mia", "mia@example.com", "manager"),
        "zed": Rep("zed", "zed@example.com", "director"),
        "kim": Rep("kim", "kim@example.com", "manager"),  # the hierarchy spells her 'Kim'
    }


def test_managers_no_assignment_names_are_left_out(tmp_path):
    assert unpaid_rollups(_book(tmp_path), _reps(), HIERARCHY, set()) == {"mia", "zed", "Kim"}


def test_a_manager_an_assignment_could_pay_keeps_the_roll_ups(tmp_path):
    by_role = _book(tmp_path, [{"plan_id": "AE", "role": "manager", "valid_from": "2027-01-01"}])
    assert unpaid_rollups(by_role, _reps(), HIERARCHY, set()) == {"zed"}  # any date counts
    by_id = _book(tmp_path, [{"plan_id": "AE", "rep_id": "KIM", "valid_from": "2026-01-01"}])
    assert unpaid_rollups(by_id, _reps(), HIERARCHY, set()) == {"mia", "zed"}  # every spelling
    email = {"plan_id": "AE", "rep_email": "zed@example.com", "valid_from": "2026-01-01"}
    by_email = _book(tmp_path, [email])
    assert unpaid_rollups(by_email, _reps(), HIERARCHY, set()) == {"mia", "Kim"}


def test_a_role_held_earlier_or_a_closed_line_keeps_the_roll_ups(tmp_path):
    reps = _reps()
    reps["zed"] = Rep("zed", "zed@example.com", "director", roles=((START, date(2026, 1, 1), "rep"),))
    assert unpaid_rollups(_book(tmp_path), reps, HIERARCHY, set()) == {"mia", "Kim"}
    # a closed line of mia's: a roll-up credit of hers that disappeared would be clawed back
    assert unpaid_rollups(_book(tmp_path), _reps(), HIERARCHY, {"MIA"}) == {"zed", "Kim"}
