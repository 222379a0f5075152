"""The dbt documentation site of the marts, as one self-contained HTML file published with them.

Why: BI users ask "what does this column mean" where they read the marts, not in the repository.
``dbt docs generate --static`` writes ``static_index.html`` with the manifest and the catalog inlined
(no server, no network: it opens from the file system), so the publish step copies it next to the
Parquet files as ``<home>/marts/dbt_docs.html`` and it switches with the night it documents. The
catalog is read from the working file, so this runs while the nightly holds the run lock, before
the publish. Documentation is not data: a failed generation is logged as a warning and the marts
are still published (without the page); it never stops the night.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from flows.config.settings import Settings
from flows.warehouse.dbt_runner import run_dbt

log = logging.getLogger(__name__)

#: the file name of the page in the published marts directory
DOCS_FILE = "dbt_docs.html"


def generate_static_docs(settings: Settings, run_date: date | None = None) -> Path | None:
    """Run ``dbt docs generate --static`` on the working file; the page, or None when it failed."""
    try:
        result = run_dbt(
            settings, ["docs", "generate", "--static"], run_date=run_date, raise_on_failure=False
        )
    except Exception as exc:  # documentation never stops the night; said in the log
        log.warning("dbt docs generate failed, publishing without %s: %s", DOCS_FILE, exc)
        return None
    page = settings.home_dir / "dbt_target" / "static_index.html"
    if not result.success or not page.is_file():
        log.warning("dbt docs generate did not write %s: publishing without %s", page, DOCS_FILE)
        return None
    return page
