"""One demo company per home: ``<home>/demo.json`` names the company a demo home holds.

The nightly lands, upserts and publishes whatever the CRMs serve; it cannot tell that a second,
different sandbox company (another data set, seed or size) is not a new night of the same one, so
two companies in one home would be published as one organisation (the Maven agents beside the
synthetic reps). A demo therefore refuses a home that holds another company, or, asked to, starts
that home from a clean state. A home without the file (a real deployment's, or one from before
this file existed) is taken as it is.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

MARKER = "demo.json"
#: What a demo writes under its home; ``--fresh`` removes exactly these, nothing else.
DEMO_STATE = (
    "work",
    "published",
    "warehouse.duckdb",
    "marts",
    "ledger",
    "reports",
    "outbox",
    "gx",
    "generated-config",
    "dbt_target",
    "logs",
    MARKER,
)


class DemoHomeMismatch(ValueError):
    """The home holds another demo company; mixing the two would publish both."""


def demo_identity(dataset: str, *, seed: int, reps: int, deals: int) -> dict[str, object]:
    """What makes two demo companies the same one (the run date only moves the same company on)."""
    if dataset == "maven":
        return {"dataset": "maven"}
    return {"dataset": dataset, "seed": seed, "reps": reps, "deals": deals}


def _describe(identity: dict[str, object]) -> str:
    order = ("dataset", "seed", "reps", "deals")
    keys = sorted(identity, key=lambda k: order.index(k) if k in order else len(order))
    return ", ".join(f"{k} {identity[k]}" for k in keys)


def claim_demo_home(home: Path, identity: dict[str, object], *, fresh: bool = False) -> None:
    """Make ``home`` the home of the demo company ``identity``, or refuse.

    A home that holds another company raises :class:`DemoHomeMismatch` naming both, unless
    ``fresh``, which first removes the demo state (:data:`DEMO_STATE`) of the home.
    """
    home = home.expanduser().resolve()
    marker = home / MARKER
    held = json.loads(marker.read_text()) if marker.exists() else None
    if fresh:
        for name in DEMO_STATE:
            path = home / name
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.is_dir():
                shutil.rmtree(path)
    elif held is not None and held != identity:
        raise DemoHomeMismatch(
            f"{home} holds the demo company ({_describe(held)}), not the one asked for "
            f"({_describe(identity)}): one home publishes one company. Run with --fresh to start "
            "this home from a clean state, or give another home (--home or SALESOPS_HOME)."
        )
    home.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(identity, sort_keys=True) + "\n")
