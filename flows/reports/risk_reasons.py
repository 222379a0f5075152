"""At-risk reasons in the reader's language.

``fct_customer_risk.risk_reasons`` is English text, one reason per condition joined with ``; ``
(``overdue beyond 60 days; credit limit exceeded``). Each reason the mart writes is matched and
written again from :data:`flows.reports.formatting.T`; a reason it does not know is shown as it is.
"""

from __future__ import annotations

import re
from typing import Any

from flows.reports.formatting import Fmt

_KNOWN = (
    (re.compile(r"overdue beyond (?P<days>\d+) days"), "risk_overdue"),
    (re.compile(r"credit limit exceeded"), "risk_credit_limit"),
    (re.compile(r"payment delay worsening"), "risk_delay_worsening"),
)


def translate_reasons(reasons: Any, fmt: Fmt) -> str:
    """The reasons (a ``; ``-joined string or a list) translated and joined the reader's way."""
    if not reasons:
        return ""
    parts = reasons if isinstance(reasons, list) else str(reasons).split(";")
    return fmt.t("reason_separator").join(_translate(str(p).strip(), fmt) for p in parts if str(p).strip())


def _translate(reason: str, fmt: Fmt) -> str:
    for pattern, key in _KNOWN:
        match = pattern.fullmatch(reason.lower())
        if match:
            return fmt.t(key, **match.groupdict())
    return reason
