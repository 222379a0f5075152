"""The published warehouse opens in DuckDB 1.x: the CLI of the README and the DuckDB that BI tools bundle.

The pipeline runs whatever DuckDB requirements.lock pins (2.x today), whose own storage format no
DuckDB 1.x can open. ``publish_marts`` writes the published file in an older storage version; this
test proves it by reading every mart with DuckDB 1.x installed from PyPI into a separate virtualenv
(built once and kept in the system temp directory): the oldest 1.x Python package, and the newest 1.x
``duckdb-cli`` running the README's own command line.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.config.settings import Settings
from flows.warehouse.publish import publish_marts

REPO = Path(__file__).resolve().parents[2]
# The oldest 1.x Python package, and the newest 1.x CLI (what the README's `pip install duckdb-cli` gives).
DUCKDB_1X = ("duckdb>=1.0,<1.1", "duckdb-cli>=1.4,<2")

# Run by each DuckDB under test: every mart, every column read back as text, plus the publish row.
READ_EVERY_MART = """
import hashlib, json, sys
import duckdb
conn = duckdb.connect(sys.argv[1], read_only=True)
conn.execute("set timezone = 'UTC'")
marts = {}
for (name,) in conn.execute(
    "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
).fetchall():
    rows = conn.execute(f'select columns(*)::varchar from marts."{name}" order by all').fetchall()
    marts[name] = {"rows": len(rows), "sha256": hashlib.sha256(repr(rows).encode()).hexdigest()}
comments = conn.execute(
    "select table_name, column_name, comment from duckdb_columns() "
    "where schema_name = 'marts' and comment is not null order by all"
).fetchall()
publish = conn.execute(
    "select run_id, run_date::varchar, published_at::varchar from main.salesops_publish"
).fetchall()
print(json.dumps({"version": duckdb.__version__, "marts": marts, "comments": comments, "publish": publish}))
"""


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as fh:  # two test sessions at once build the environment once
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def duckdb_1x_bin() -> Path:
    """The bin/ directory of a virtualenv with DuckDB 1.x only (nothing of the project's)."""
    key = hashlib.sha256(repr((sys.version_info[:2], DUCKDB_1X)).encode()).hexdigest()[:12]
    root = Path(tempfile.gettempdir()) / f"salesops-duckdb1x-{key}"
    ready = root / ".ready"
    with _locked(root.with_name(f"{root.name}.lock")):
        if not ready.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(root)], check=True, timeout=300)
            pip = [root / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run([*pip, *DUCKDB_1X], check=True, timeout=600)
            ready.touch()
    return root / "bin"


def build_working_marts(settings: Settings) -> None:
    """A working warehouse whose marts use every column type the real marts use (and a view)."""
    with duckdb.connect(str(settings.warehouse_path)) as conn:
        conn.execute("create schema raw; create schema marts")
        conn.execute("create table raw.secret as select 'pii' as email")
        conn.execute(
            """
            create table marts.fct_rep_scorecard as
            select (date '2025-01-01' + (i % 24) * interval 1 month)::date as period_month,
                   false as is_future_period,
                   'rep-' || (i % 37) as rep_id,
                   case i % 3 when 0 then '王芳' when 1 then 'Ana Souza' end as rep_name,
                   (i * 12.34)::decimal(18, 2) as won_amount,
                   (i / 7)::decimal(18, 6) as attainment,
                   (i * 1000000000000.25)::decimal(38, 2) as lifetime_amount,
                   (i % 100 / 3)::decimal(9, 4) as rate,
                   (i % 100)::decimal(5, 2) as pct,
                   i::hugeint * 1000000 as deal_value_sum,
                   i::bigint as deal_count,
                   (i % 12)::integer as rank_in_team,
                   case when i % 5 = 0 then null else i % 2 = 0 end as is_active,
                   timestamp '2026-12-05 02:00:00' + i * interval 1 minute as computed_at,
                   'EUR' as currency
            from range(5000) t(i)
            """
        )
        # what dbt's persist_docs leaves on a mart: the YAML descriptions as comments
        conn.execute("comment on table marts.fct_rep_scorecard is 'Rep x month KPIs'")
        conn.execute("comment on column marts.fct_rep_scorecard.rep_name is 'Name (姓名), the rep''s own'")
        conn.execute(
            "create table marts.dim_date as select d::date as date_day, year(d) as year, "
            "strftime(d, '%Y-%m') as month "
            "from range(date '2020-01-01', date '2033-01-01', interval 1 day) t(d)"
        )
        conn.execute(
            "create view marts.v_reps as select rep_id, count(*) as months "
            "from marts.fct_rep_scorecard group by rep_id"
        )


@pytest.fixture
def published(tmp_path: Path) -> Path:
    settings = Settings(home=tmp_path / "home")
    settings.ensure_dirs()
    build_working_marts(settings)
    result = publish_marts(settings, run_id="run-1", run_date=date(2026, 12, 5))
    assert result.tables == {"dim_date": 4749, "fct_rep_scorecard": 5000, "v_reps": 37}
    return result.database


def run(command: list, **kwargs) -> str:
    """stdout of ``command``; its stderr (DuckDB's error: the storage version it cannot read) if it fails."""
    out = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=120, **kwargs)
    assert out.returncode == 0, f"{command[0]} failed:\n{out.stderr}"
    return out.stdout


def read_every_mart(python: Path | str, database: Path) -> dict:
    return json.loads(run([python, "-I", "-c", READ_EVERY_MART, database]))


@pytest.mark.timeout(900)
def test_duckdb_1x_reads_every_published_mart(duckdb_1x_bin, published):
    ours = read_every_mart(sys.executable, published)
    theirs = read_every_mart(duckdb_1x_bin / "python", published)

    assert theirs["version"].startswith("1.")
    assert theirs["marts"] == ours["marts"]  # same marts, same rows, every value the same
    assert {m: v["rows"] for m, v in theirs["marts"].items()} == {
        "dim_date": 4749,
        "fct_rep_scorecard": 5000,
        "v_reps": 37,
    }
    assert (
        theirs["comments"]
        == ours["comments"]
        == [["fct_rep_scorecard", "rep_name", "Name (姓名), the rep's own"]]
    )
    assert theirs["publish"] == ours["publish"]
    assert theirs["publish"][0][:2] == ["run-1", "2026-12-05"]


def duckdb_cli(bin_dir: Path, *args: str) -> str:
    return run(["duckdb", *args], env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})


@pytest.mark.timeout(900)
def test_the_readme_duckdb_cli_command_reads_the_published_file(duckdb_1x_bin, published):
    version = duckdb_cli(duckdb_1x_bin, "--version")
    assert version.startswith("v1."), version

    readme = (REPO / "README.md").read_text("utf-8")
    assert "pip install duckdb-cli" in readme
    (command,) = re.findall(r"^duckdb -readonly data/warehouse\.duckdb .*$", readme, flags=re.M)
    args = shlex.split(command)[1:]
    args[args.index("data/warehouse.duckdb")] = str(published)
    shown = duckdb_cli(duckdb_1x_bin, *args)
    assert "period_month" in shown and "2026-12-01" in shown  # the newest month first

    counts = " union all ".join(
        f"select '{mart}', count(*) from marts.{mart}" for mart in ("dim_date", "fct_rep_scorecard", "v_reps")
    )
    csv = duckdb_cli(duckdb_1x_bin, "-readonly", "-csv", "-noheader", str(published), counts)
    assert sorted(csv.split()) == ["dim_date,4749", "fct_rep_scorecard,5000", "v_reps,37"]
