"""The managers whose roll-up credits change nothing in the ledger: the nightly stages no roll-up
credit for them (:mod:`flows.commissions.chunks`).

A company that pays no overrides assigns no plan to its managers and directors, yet every direct
credit rolls up to each of them: at 200k bench deals two thirds of the engine's credits were
roll-ups that no plan paid and no warning named, and a region's director held a quarter of all
direct credits in one group (issue 14). Their credits are left out only when leaving them out is
exact: no plan can pay the person on any day, their roll-ups raise no warning, and they have no
closed line (a closed line whose credit disappeared is clawed back, so its credit must be there).
"""

from __future__ import annotations

from collections import defaultdict

from flows.commissions.hierarchy import Hierarchy
from flows.commissions.identity import rep_key
from flows.commissions.lines import Rep
from flows.commissions.pay_warnings import never_assigned
from flows.commissions.plan_lookup import Book


def unpaid_rollups(book: Book, reps: dict[str, Rep], hierarchy: Hierarchy, closed_reps: set[str]) -> set[str]:
    """The managers of ``hierarchy`` whose roll-up credits the engine can leave out: every
    spelling of the manager's id (``identity.rep_key``: the engine merges them) is a person no
    assignment can match (:func:`could_be_assigned`) and the file never assigns
    (``pay_warnings.never_assigned``), and none has a line in ``closed_reps``."""
    if book.assignments is None:  # every plan applies to everyone
        return set()
    spellings: dict[str, list[Rep]] = defaultdict(list)
    for rep in reps.values():
        spellings[rep_key(rep.rep_id)].append(rep)
    closed = {rep_key(r) for r in closed_reps}
    managers = {v.manager_id for versions in hierarchy.versions.values() for v in versions if v.manager_id}
    out = set()
    for manager in managers:
        key = rep_key(manager)
        people = spellings.get(key) or [Rep(manager)]
        if key in closed or any(could_be_assigned(book, p) or not never_assigned(book, p) for p in people):
            continue
        out.add(manager)
    return out


def could_be_assigned(book: Book, rep: Rep) -> bool:
    """Whether an assignment could give ``rep`` a plan on some day: what ``PlanBook.plan_for``
    compares (the id, the e-mail, the role of the day, which is one of the roles the rep ever
    held), whatever the dates."""
    ids = {rep.rep_id.strip().casefold()}
    email = (rep.email or "").strip().lower()
    roles = {rep.role, *(role for _, _, role in rep.roles)}
    return any(
        (a.rep_id is not None and a.rep_id.strip().casefold() in ids)
        or (a.rep_email is not None and a.rep_email == email)
        or (a.role is not None and a.role in roles)
        for a in book.assignments or []
    )
