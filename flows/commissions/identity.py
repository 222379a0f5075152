"""Who is who: rep ids and e-mail addresses matched case- and whitespace-insensitively.

CRMs, spreadsheets and plan files spell the same person differently (``Ann`` in the credits,
``ann`` in the targets, `` Ann@Example.com`` in an assignment). Matching them exactly pays a rep
without their target (everything at the first band) without a word, so every comparison of a rep
id or an e-mail goes through :func:`rep_key`; :func:`canonical_inputs` gives one spelling per
person to the engine (the first one seen: the reps given, then the credits, then the targets).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from operator import attrgetter

from flows.commissions.lines import Credit, Rep

#: a credit's rep id, read in C (the engine reads it for every credit several times)
REP_ID = attrgetter("rep_id")


def rep_key(value: str | None) -> str:
    """The matching key of a rep id or e-mail: stripped and case-folded (``' Ann '`` -> ``'ann'``)."""
    return (value or "").strip().casefold()


def _merge(a: Rep, b: Rep) -> Rep:
    """One rep from two spellings: the fields ``a`` lacks are taken from ``b``."""
    return Rep(
        a.rep_id,
        a.email or b.email,
        a.role or b.role,
        a.hired_on or b.hired_on,
        a.left_on or b.left_on,
        a.roles or b.roles,
    )


def canonical_inputs(
    credits: list[Credit], reps: dict[str, Rep], targets: dict[tuple[str, date], Decimal]
) -> tuple[list[Credit], dict[str, Rep], dict[tuple[str, date], Decimal]]:
    """The engine's inputs with one spelling per rep id (idempotent; exact duplicates of a target
    under two spellings keep the first)."""
    spelling: dict[str, str] = {}
    # each distinct id once, in the order first seen (40k credits name a few hundred reps)
    seen = dict.fromkeys([*reps, *map(REP_ID, credits), *(r for r, _ in targets)])
    for rep_id in seen:
        spelling.setdefault(rep_key(rep_id), rep_id)
    canonical = {rep_id: spelling[rep_key(rep_id)] for rep_id in seen}

    def one(rep_id: str) -> str:
        return canonical[rep_id] if rep_id in canonical else spelling[rep_key(rep_id)]

    merged: dict[str, Rep] = {}
    for rep in reps.values():
        name = one(rep.rep_id)
        rep = replace(rep, rep_id=name)
        merged[name] = _merge(merged[name], rep) if name in merged else rep
    if all(name == rep_id for rep_id, name in canonical.items()):
        same = list(credits)  # one spelling already (the nightly's case): no credit to look at
    else:
        same = [
            c if canonical[c.rep_id] == c.rep_id else replace(c, rep_id=canonical[c.rep_id]) for c in credits
        ]
    keyed: dict[tuple[str, date], Decimal] = {}
    for (rep_id, period), amount in targets.items():
        keyed.setdefault((one(rep_id), period), amount)
        merged.setdefault(one(rep_id), Rep(one(rep_id)))  # a rep known only from a target
    return same, merged, keyed


def add_credited_reps(reps: dict[str, Rep], credits: list[Credit]) -> None:
    """Add a bare :class:`Rep` for every credited rep id ``reps`` lacks, in the order first
    credited (``reps.setdefault(c.rep_id, Rep(c.rep_id))`` per credit, which built a frozen
    ``Rep`` for every credit - 260k at 200k deals - to keep a few)."""
    for rep_id in dict.fromkeys(map(REP_ID, credits)):
        if rep_id not in reps:
            reps[rep_id] = Rep(rep_id)
