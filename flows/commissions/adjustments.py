"""Manual adjustments (``config/commission_adjustments.csv``) as statement lines.

Each row is an ``adjustment`` line of the month it is for, ``manual:<YYYY-MM>:<rep>:<key>`` (the
key is a digest of the reason, the row's identity), linked to itself (``related_line_id`` = its
own id, ``source_period`` = its month) with the reason and the approver in ``explanation``. The
ledger treats it like any calculated line of that month: in an open month it is paid there; a
closed month is never changed - the ledger's prior-period mechanism posts it (or a later change
of its amount, or its removal) in the first open month after, as ``adj:<month>:<line id>``
linked to it (:func:`flows.commissions.ledger.adjustments`). A row whose rep matches no rep is not
paid and is reported (warning ``unmatched_adjustment``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from flows.commissions.identity import rep_key
from flows.commissions.lines import Line, Rep
from flows.commissions.pay_warnings import PayWarning
from flows.config.commission_adjustments import ManualAdjustment


def manual_lines(
    rows: Iterable[ManualAdjustment], reps: dict[str, Rep], currency: str, source: str = "adjustments"
) -> tuple[list[Line], list[PayWarning]]:
    """(lines, warnings): a line per row whose rep id or e-mail is known, a warning per other row."""
    known: dict[str, str] = {}
    for rep in reps.values():
        known.setdefault(rep_key(rep.rep_id), rep.rep_id)
        if rep.email:
            known.setdefault(rep_key(rep.email), rep.rep_id)
    lines, warnings = [], []
    for row in rows:
        rep_id = known.get(rep_key(row.rep))
        if rep_id is None:
            warnings.append(
                PayWarning(
                    "unmatched_adjustment",
                    row.period,
                    row.rep,
                    f"{source} row {row.source_row}",
                    f"{source} row {row.source_row}: adjustment of {row.amount} for {row.rep} "
                    f"({row.period:%Y-%m}, {row.reason!r}) is not paid: no rep has this id or e-mail",
                )
            )
            continue
        digest = hashlib.sha1(row.reason.casefold().encode("utf-8")).hexdigest()[:10]
        line_id = f"manual:{row.period:%Y-%m}:{rep_id}:{digest}"
        lines.append(
            Line(
                commission_line_id=line_id,
                line_type="adjustment",
                rep_id=rep_id,
                period_month=row.period,
                component="manual_adjustment",
                component_type="manual_adjustment",
                base_amount=row.amount,
                commission_amount=row.amount,
                currency=currency,
                related_line_id=line_id,
                source_period=row.period,
                explanation=f"manual adjustment: {row.reason} (approved by {row.approved_by}; "
                f"{source} row {row.source_row})",
            )
        )
    return lines, warnings
