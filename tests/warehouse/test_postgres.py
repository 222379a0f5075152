"""The dbt project on a real PostgreSQL server, against the DuckDB build of the same data.

A private PostgreSQL cluster (initdb into a temp dir, trust auth, a free port on 127.0.0.1, its
unix socket in the temp dir) serves the module. A DuckDB working warehouse is produced the way
the nightly pipeline does it, on a small sandbox company: both CRMs ingested over HTTP through
the real connectors, one deal quarantined, config loaded, ``dbt build``, then the commission
engine (which writes finance.* and rebuilds fct_commissions). ``flows.warehouse.postgres`` copies the
landing layer to PostgreSQL and runs ``dbt build --target pg``; the marts must agree with
DuckDB's: row counts, and the sums of every DECIMAL column (money to the cent, ratios, scores and
day counts to their last digit).

PostgreSQL binaries are required (``make test`` installs Debian's ``postgresql`` through
``make postgres``): when they are missing the tests fail, they do not skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg2
import pytest
from reference_warehouse_support import build_reference_warehouse, duck_query
from typer.testing import CliRunner

from flows.cli.main import app
from flows.config.settings import Settings
from flows.warehouse.postgres import build_on_postgres, copy_warehouse

pytestmark = pytest.mark.timeout(600)

RUN_DATE = date(2026, 11, 28)
PG_USER = "salesops"
PG_DATABASE = "salesops"
# trust auth accepts any password; it is set so the tests can check it is never printed
PG_PASSWORD = "never-printed-7f3a"

#: Marts whose rows and money must be the same on both engines (all of marts.* are compared
#: on row counts; these must also be non-empty).
KEY_MARTS = [
    "fct_deals",
    "fct_sales_targets",
    "fct_rep_scorecard",
    "fct_funnel",
    "fct_commissions",
    "fct_commission_statements",
    "fct_customer_risk",
    "fct_receivables_ageing",
    "dim_sales_reps",
]


# --- a private PostgreSQL cluster -----------------------------------------------------------------


def _pg_bin_dir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0,
    )
    if not candidates:
        pytest.fail(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: run `make postgres` "
            "(apt-get install postgresql) - `make test` does it",
            pytrace=False,
        )
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    host: str
    port: int
    user: str
    database: str

    def env(self) -> dict[str, str]:
        return {
            "SALESOPS_PG_HOST": self.host,
            "SALESOPS_PG_PORT": str(self.port),
            "SALESOPS_PG_USER": self.user,
            "SALESOPS_PG_PASSWORD": PG_PASSWORD,
            "SALESOPS_PG_DATABASE": self.database,
        }

    def connect(self):
        return psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname=self.database)


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PgServer]:
    bin_dir = _pg_bin_dir()
    # Not pytest's tmp_path: its parents are private to root, and the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="salesops-pg-"))
    data, log = root / "data", root / "server.log"
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(root, user="postgres")
    port = _free_port()

    def run(*args: str) -> None:
        proc = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            detail = f"{proc.stdout}\n{proc.stderr}\n{server_log}"
            pytest.fail(f"{' '.join(args)} failed:\n{detail}", pytrace=False)

    started = False
    try:
        run(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            PG_USER,
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off "
            # not UTC: the marts must not depend on the session time zone
            "-c timezone=Asia/Shanghai"
        )
        run(
            str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "60", "start"
        )
        started = True
        admin = psycopg2.connect(host="127.0.0.1", port=port, user=PG_USER, dbname="postgres")
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f"create database {PG_DATABASE}")
        admin.close()
        yield PgServer("127.0.0.1", port, PG_USER, PG_DATABASE)
    finally:
        if started:
            subprocess.run(
                [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


# --- a DuckDB working warehouse, built like the nightly pipeline does ---------------------------


@dataclass
class Built:
    settings: Settings
    quarantined_deal: str
    seconds: float


@pytest.fixture(scope="module")
def duck(tmp_path_factory) -> Built:
    started = time.monotonic()
    home = tmp_path_factory.mktemp("pg_home")
    settings, deal_id = build_reference_warehouse(home, deals=240, run_id="pg-test", run_date=RUN_DATE)
    return Built(settings, deal_id, time.monotonic() - started)


@pytest.fixture(scope="module")
def pg_built(duck: Built, pg_server: PgServer):
    settings = duck.settings.model_copy(
        update={
            "pg_host": pg_server.host,
            "pg_port": pg_server.port,
            "pg_user": pg_server.user,
            "pg_database": pg_server.database,
        }
    )
    started = time.monotonic()
    copied, result = build_on_postgres(settings, run_date=RUN_DATE, raise_on_failure=False)
    return settings, copied, result, time.monotonic() - started


def _pg_query(server: PgServer, sql: str) -> list[tuple]:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def _decimal_columns(settings: Settings, table: str) -> list[str]:
    """DECIMAL columns of a mart in the DuckDB build: amounts (scale 2, to the cent), ratios,
    scores, days."""
    rows = duck_query(
        settings,
        "select column_name from information_schema.columns where table_schema = 'marts' "
        f"and table_name = '{table}' and data_type like 'DECIMAL%' order by ordinal_position",
    )
    return [r[0] for r in rows]


def _cents(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _exact(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.000001"))


# --- tests ---------------------------------------------------------------------------------------


def test_dbt_build_on_postgres_succeeds_with_no_errors(pg_built, duck) -> None:
    _, copied, result, seconds = pg_built
    print(f"\nDuckDB warehouse built in {duck.seconds:.0f}s; copy + dbt build --target pg in {seconds:.0f}s")
    assert result.success, result.describe_failures()
    assert result.failures == []
    kinds = {n.resource_type for n in result.nodes}
    assert {"model", "test", "seed", "unit_test"} <= kinds
    # the landing layer came across whole: every raw, config, ops.quarantine and finance table
    tables = set(copied.tables)
    assert {
        "raw.zoho_deals",
        "raw.fxiaoke_opportunities",
        "config.targets",
        "config.calendar",
        "ops.quarantine",
        "finance.commission_lines",
    } <= tables
    for name, rows in copied.tables.items():
        assert duck_query(duck.settings, f"select count(*) from {name}")[0][0] == rows, name


def test_marts_agree_between_duckdb_and_postgres(pg_built, duck, pg_server) -> None:
    settings, _, result, _ = pg_built
    assert result.success, result.describe_failures()
    marts = [
        r[0]
        for r in duck_query(
            settings,
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1",
        )
    ]
    assert set(KEY_MARTS) <= set(marts)
    pg_marts = {
        r[0]
        for r in _pg_query(
            pg_server, "select table_name from information_schema.tables where table_schema = 'marts'"
        )
    }
    assert set(marts) <= pg_marts

    differences = []
    for mart in marts:
        money = _decimal_columns(settings, mart)
        select = ", ".join(["count(*)", *(f'sum("{c}")' for c in money)])
        duck_row = duck_query(settings, f"select {select} from marts.{mart}")[0]
        pg_row = _pg_query(pg_server, f"select {select} from marts.{mart}")[0]
        if duck_row[0] != pg_row[0]:
            differences.append(f"{mart}: {duck_row[0]} rows on DuckDB, {pg_row[0]} on PostgreSQL")
        for column, d, p in zip(money, duck_row[1:], pg_row[1:], strict=True):
            if _exact(d) != _exact(p):
                differences.append(f"{mart}.{column}: sum {d} on DuckDB, {p} on PostgreSQL")
        if mart in KEY_MARTS:
            assert duck_row[0] > 0, f"{mart} is empty: nothing compared"
    assert not differences, "\n".join(differences)


def _normalised(value):
    """One cell comparable across engines: numbers as decimals to 6 places (PostgreSQL sums
    integers into NUMERIC, DuckDB into HUGEINT), timestamps naive UTC."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal | int | float):
        return Decimal(repr(value) if isinstance(value, float) else value).quantize(Decimal("0.000001"))
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).replace(tzinfo=None)
    return str(value)


def test_every_mart_row_is_the_same_on_both_engines(pg_built, duck, pg_server) -> None:
    settings = pg_built[0]
    assert pg_built[2].success, pg_built[2].describe_failures()
    tables = duck_query(
        settings, "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
    )
    differences = []
    for (mart,) in tables:
        columns = duck_query(
            settings,
            "select column_name from information_schema.columns where table_schema = 'marts' "
            f"and table_name = '{mart}' order by ordinal_position",
        )
        select = ", ".join(f'"{c}"' for (c,) in columns)
        sql = f"select {select} from marts.{mart}"
        on_duck = Counter(tuple(map(_normalised, row)) for row in duck_query(settings, sql))
        on_pg = Counter(tuple(map(_normalised, row)) for row in _pg_query(pg_server, sql))
        if on_duck != on_pg:
            only_duck, only_pg = on_duck - on_pg, on_pg - on_duck
            differences.append(
                f"{mart}: {sum(only_duck.values())} rows only on DuckDB, {sum(only_pg.values())} only "
                f"on PostgreSQL, e.g. {next(iter(only_duck), None)} / {next(iter(only_pg), None)}"
            )
    assert not differences, "\n".join(differences)


def test_quarantined_deal_is_left_out_on_postgres(pg_built, duck, pg_server) -> None:
    assert _pg_query(pg_server, "select count(*) from ops.quarantine")[0][0] == 1
    deal = f"zoho:{duck.quarantined_deal}"
    sql = f"select count(*), count(*) filter (where deal_id = '{deal}') from marts.fct_deals"
    rows = _pg_query(pg_server, sql)
    assert rows[0][0] > 0 and rows[0][1] == 0
    sql = f"select count(*) from marts.fct_deals where deal_id = '{deal}'"
    assert duck_query(duck.settings, sql)[0][0] == 0


def test_copy_is_idempotent_and_mirrors_duckdb(pg_built, duck, pg_server) -> None:
    settings = pg_built[0]
    before = _pg_query(pg_server, "select count(*) from raw.zoho_deals")[0][0]
    # a table that DuckDB does not have (any more) in a landing schema is dropped by the copy
    conn = pg_server.connect()
    with conn, conn.cursor() as cur:
        cur.execute("create table raw.zoho_gone (id text)")
    conn.close()
    again = copy_warehouse(settings)
    assert again.tables == pg_built[1].tables
    assert again.dropped == ["raw.zoho_gone"]
    assert _pg_query(pg_server, "select count(*) from raw.zoho_deals")[0][0] == before
    # the marts and the views dbt built on the landing tables survive a copy of the same shape
    assert _pg_query(pg_server, "select count(*) from staging.stg_zoho__deals")[0][0] > 0


def test_cli_copies_and_builds_without_printing_the_password(pg_built, duck, pg_server, monkeypatch) -> None:
    settings = pg_built[0]
    for key, value in pg_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SALESOPS_HOME", str(settings.home_dir))
    runner = CliRunner()

    help_text = runner.invoke(app, ["warehouse", "postgres", "--help"], terminal_width=200).output
    expected = (
        "--select",
        "--run-date",
        "--copy-only",
        "--skip-copy",
        "dbt build --target pg",
        "SALESOPS_PG",
    )
    for words in expected:
        assert words in help_text

    result = runner.invoke(
        app, ["warehouse", "postgres", "--run-date", RUN_DATE.isoformat(), "--select", "fct_deals"]
    )
    assert result.exit_code == 0, result.output
    assert "copied" in result.output and "success=" in result.output and "error" not in result.output
    assert f"{pg_server.host}:{pg_server.port}/{pg_server.database}" in result.output
    assert PG_PASSWORD not in result.output
    duck_deals = duck_query(settings, "select count(*), sum(amount_reporting) from marts.fct_deals")[0]
    pg_deals = _pg_query(pg_server, "select count(*), sum(amount_reporting) from marts.fct_deals")[0]
    assert duck_deals[0] == pg_deals[0] and _cents(duck_deals[1]) == _cents(pg_deals[1])

    # an unreachable server fails the command with one clear line and exit code 1
    wrong_port = runner.invoke(app, ["warehouse", "postgres", "--copy-only"], env={"SALESOPS_PG_PORT": "1"})
    assert wrong_port.exit_code == 1
    assert "FAILED" in wrong_port.output and PG_PASSWORD not in wrong_port.output


def test_copy_round_trips_awkward_values_in_chunks(pg_server, monkeypatch) -> None:
    """Tabs, newlines, backslashes, '' vs NULL, Chinese text, JSON, exact decimals, timestamps
    with their instant, booleans and lists survive COPY, also across chunk boundaries."""
    from flows.warehouse import postgres

    admin = psycopg2.connect(host=pg_server.host, port=pg_server.port, user=pg_server.user, dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("drop database if exists copy_check")
        cur.execute("create database copy_check")
    admin.close()
    monkeypatch.setattr(postgres, "CHUNK_ROWS", 2)
    duck = duckdb.connect()
    duck.execute("set TimeZone = 'UTC'")
    duck.execute("create schema raw")
    duck.execute(
        "create table raw.zoho_odd (id varchar, note varchar, record json, amount decimal(18, 2), "
        "ratio double, happened_at timestamptz, day date, flag boolean, tags varchar[])"
    )
    rows = [
        ("1", "tab\there\nnew line \\ back\\N", '{"名称": "华东 \\t", "n": 1.10}', "12.345", 0.1,
         "2026-03-01 10:00:00+08", "2026-03-01", True, ["a", "b"]),
        ("2", "", None, "-0.01", None, None, None, False, []),
        ("3", None, '{"a": null}', "99999999.99", 1e-9, "2026-11-28 23:59:59.123456+00", "1999-12-31",
         None, None),
    ]  # fmt: skip
    duck.executemany("insert into raw.zoho_odd values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    pg = psycopg2.connect(host=pg_server.host, port=pg_server.port, user=pg_server.user, dbname="copy_check")
    try:
        result = postgres.copy_landing(duck, pg)
        assert result.tables == {"raw.zoho_odd": 3}
        with pg.cursor() as cur:
            cur.execute(
                "select id, note, record->>'名称', record->>'n', amount, ratio, "
                "extract(epoch from happened_at)::bigint, day::text, flag, tags::text "
                "from raw.zoho_odd order by id"
            )
            got = cur.fetchall()
        assert got[0][:4] == ("1", "tab\there\nnew line \\ back\\N", "华东 \t", "1.10")
        assert str(got[0][4]) == "12.35" and got[0][5] == 0.1
        assert got[0][6] == 1772330400 and got[0][7] == "2026-03-01" and got[0][8] is True
        assert got[0][9] == '["a", "b"]'
        assert got[1][1] == "" and got[1][2] is None and str(got[1][4]) == "-0.01" and got[1][9] == "[]"
        assert got[2][1] is None and str(got[2][4]) == "99999999.99" and got[2][5] == 1e-9
        assert got[2][8] is None and got[2][9] is None
    finally:
        pg.close()
        duck.close()
