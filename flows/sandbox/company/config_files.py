"""The configuration a generated company needs to run: a copy of the shipped ``config/`` whose
``targets.csv`` has a monthly target for every generated rep.

Why: ``config/targets.csv`` names the 24 reps of the default demo company (seed 42) by e-mail.
A company of another size or seed has reps it does not cover, and the marts gate ("every rep with
commission lines in a month has a target") stops the run. Plans are assigned by role and calendars
by region, so the targets are the only per-rep file. ``salesops demo`` writes this directory under
``SALESOPS_HOME`` and points ``SALESOPS_CONFIG_DIR`` at it, only when the shipped targets miss a
rep, so the default demo runs on the shipped files as before. See docs/sandbox.md ("Scale").
"""

from __future__ import annotations

import csv
import io
import shutil
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from flows.sandbox.company.model import Company

TARGETS_FILE = "targets.csv"
#: Deals per rep of the company the shipped rep targets were set for (1200 deals, 24 reps).
SHIPPED_DEALS_PER_REP = Decimal(50)
_STEP = Decimal(500)


def uncovered_reps(company: Company, config_dir: Path) -> list[str]:
    """E-mails of the company's reps that ``config_dir``'s targets.csv has no target for."""
    path = config_dir / TARGETS_FILE
    covered = set()
    if path.exists():
        with path.open(newline="", encoding="utf-8") as fh:
            covered = {r["scope_key"].lower() for r in csv.DictReader(fh) if r["scope_type"] == "rep"}
    return [u.email for u in company.users if u.role == "rep" and u.email.lower() not in covered]


def write_config_dir(company: Company, source: Path, dest: Path) -> Path:
    """Copy ``source`` to ``dest`` (replacing it) with targets for exactly the company's reps:
    a shipped rep keeps their rows, every other rep gets the month profile of the shipped reps'
    average, scaled by the company's deals per rep. When the company has another number of deals
    per rep than the shipped one, the kept rows of shipped reps are scaled by the same factor:
    unscaled, a shipped rep of a 500-deals-per-rep company reached 96x their target in a month and
    the marts gate (attainment at most 50) stopped the run."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("maven", "targets.xlsx"))
    with (source / TARGETS_FILE).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header, rows = list(reader.fieldnames or []), list(reader)
    reps = {u.email.lower(): u for u in company.users if u.role == "rep"}
    kept = [r for r in rows if r["scope_type"] != "rep" or r["scope_key"].lower() in reps]
    have = {r["scope_key"].lower() for r in kept if r["scope_type"] == "rep"}
    profile = _month_profile(rows)
    scale = _deals_per_rep(company) / SHIPPED_DEALS_PER_REP
    if scale != 1:
        kept = [
            dict(r, target_amount=f"{_scaled(Decimal(r['target_amount']), scale):.2f}")
            if r["scope_type"] == "rep"
            else r
            for r in kept
        ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
    for email, _user in sorted(reps.items(), key=lambda item: item[1].key):
        if email in have:
            continue
        for (period, currency), amount in profile.items():
            target = _scaled(amount, scale)
            writer.writerow(
                {
                    "scope_type": "rep",
                    "scope_key": _user.email,
                    "grain": "month",
                    "period": period,
                    "target_amount": f"{target:.2f}",
                    "currency": currency,
                }
            )
    (dest / TARGETS_FILE).write_text(out.getvalue(), encoding="utf-8")
    return dest


def _scaled(amount: Decimal, scale: Decimal) -> Decimal:
    """``amount x scale`` to the nearest 500 (half up), at least 500."""
    return max(_STEP, (amount * scale / _STEP).quantize(Decimal(1), ROUND_HALF_UP) * _STEP)


def _month_profile(rows: list[dict[str, str]]) -> dict[tuple[str, str], Decimal]:
    """The shipped reps' average monthly target per (month, currency), in file order."""
    sums: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for r in rows:
        if r["scope_type"] == "rep" and r["grain"] == "month":
            sums[(r["period"], r["currency"])].append(Decimal(r["target_amount"]))
    return {k: sum(v, Decimal(0)) / len(v) for k, v in sums.items()}


def _deals_per_rep(company: Company) -> Decimal:
    reps = sum(1 for u in company.users if u.role == "rep")
    return Decimal(len(company.deals)) / max(1, reps)
