"""The semantic layer (dbt_project/models/semantic/, MetricFlow) gives the marts' numbers.

A working warehouse is built the way the nightly builds it (the demo company: seed 42, 24 reps,
240 deals, landed from the sandbox CRMs, config loaded, ``dbt build``) and published. Then MetricFlow's
own CLI, ``mf``, runs against the *published* file, as a BI analyst would, and its figures are
compared with

- SQL written here, independently of the semantic models, over ``marts.fct_deals`` (won revenue and
  win rate per rep and month: ``stage_category`` and ``filter`` clauses, not the measures' CASE
  expressions), and
- the columns of ``marts.fct_rep_scorecard`` that the manager report reads (won, win rate,
  attainment, coverage, cycle time, velocity), and the report's own pace (flows/reports/pace.py).
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from reports_support import cells
from typer.testing import CliRunner

from flows.cli.main import app
from flows.config import loader as config_loader
from flows.config.settings import Settings, patched_environ
from flows.crm.landing import ingest_source
from flows.crm.registry import build_connectors
from flows.reports.formatting import Fmt
from flows.reports.manager_report import build_manager_reports
from flows.reports.pace import add_targets_to_date, pace
from flows.reports.semantic_figures import month_figures
from flows.sandbox.cluster import SandboxCluster
from flows.sandbox.company.generator import generate_company
from flows.warehouse.database import Warehouse
from flows.warehouse.dbt_runner import run_dbt
from flows.warehouse.publish import publish_marts

REPO = Path(__file__).resolve().parents[2]
RUN_DATE = date(2026, 11, 28)
MF = Path(sys.executable).with_name("mf")
# the mart rounds ratios to DECIMAL(18,6) and money to the cent; MetricFlow returns doubles
RATIO_TOLERANCE = Decimal("0.000001")

pytestmark = pytest.mark.timeout(900)


@dataclass
class Published:
    home: Path
    project: Path  # a copy of dbt_project/ whose target/ holds the nightly's semantic manifest


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Published:
    home = tmp_path_factory.mktemp("semantic_home")
    company = generate_company(seed=42, reps=24, deals=240, as_of=RUN_DATE)
    with (
        SandboxCluster(company) as cluster,
        patched_environ(cluster.settings_env() | {"SALESOPS_HOME": str(home)}),
    ):
        settings = Settings()
        settings.ensure_dirs()
        warehouse = Warehouse(settings.warehouse_path)
        for connector in build_connectors(settings):
            try:
                ingest_source(connector, warehouse, run_id="semantic-test")
            finally:
                connector.close()
    with warehouse.connect() as conn:
        config_loader.load_config(conn, settings.config_path, run_id="semantic-test")
    settings = Settings(home=home)
    run_dbt(settings, ["build"], run_date=RUN_DATE)
    publish_marts(settings, run_id="semantic-test", run_date=RUN_DATE)
    # mf reads <project>/target/semantic_manifest.json: a private copy of the project, with the
    # manifest the nightly's `dbt build` wrote, so that parallel test sessions do not share target/.
    project = home / "dbt_project"
    shutil.copytree(
        REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "dbt_packages", "logs")
    )
    (project / "target").mkdir()
    shutil.copy(home / "dbt_target" / "semantic_manifest.json", project / "target")
    return Published(home, project)


def _mf(published: Published, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"SALESOPS_HOME": str(published.home), "DBT_PROFILES_DIR": str(published.project)}
    proc = subprocess.run(
        [str(MF), *args], cwd=published.project, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"mf {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _mf_rows(published: Published, metrics: list[str], group_by: list[str], *where: str) -> list[dict]:
    out = published.home / f"mf_{'_'.join(metrics)}.csv"
    args = ["query", "--metrics", ",".join(metrics), "--group-by", ",".join(group_by), "--csv", str(out)]
    for clause in where:
        args += ["--where", clause]
    _mf(published, *args)
    with out.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _published(published: Published, sql: str) -> list[tuple]:
    with duckdb.connect(str(published.home / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def _num(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(text)


def _month(text: str) -> date:
    return date.fromisoformat(text[:10])


def _close(actual: Decimal | None, expected: Decimal | None, tolerance: Decimal) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    return abs(actual - Decimal(expected)) <= tolerance


def _by_rep_month(rows: list[dict]) -> dict[tuple[str, date], dict]:
    return {(r["rep"], _month(r["metric_time__month"])): r for r in rows if r["metric_time__month"]}


def test_validate_configs_passes_against_the_published_warehouse(published):
    """Every semantic model, dimension and metric resolves against the published file (mf queries each)."""
    proc = _mf(published, "validate-configs")
    output = proc.stdout + proc.stderr
    assert "Successfully validated metrics against data warehouse (ERRORS: 0" in output, output


def test_won_revenue_and_win_rate_equal_independent_sql_over_fct_deals(published):
    mf = _by_rep_month(_mf_rows(published, ["won_revenue", "win_rate"], ["rep", "metric_time__month"]))
    expected = _published(
        published,
        """
        select rep_id, cast(date_trunc('month', close_date) as date) as month,
               sum(amount_reporting) filter (where stage_category = 'won') as won,
               count(*) filter (where stage_category = 'won') as won_deals,
               count(*) filter (where stage_category in ('won', 'lost')) as closed_deals
        from marts.fct_deals
        where close_date is not null
        group by all
        """,
    )
    assert len(expected) > 50, "the demo company should give many rep-months"
    assert {(rep, month) for rep, month, *_ in expected} == set(mf)
    won_months = 0
    for rep, month, won, won_deals, closed_deals in expected:
        row = mf[(rep, month)]
        assert _num(row["won_revenue"]) == (won or Decimal(0)), (rep, month)
        rate = Decimal(won_deals) / closed_deals if closed_deals else None
        assert _close(_num(row["win_rate"]), rate, Decimal("1e-12")), (rep, month, row, rate)
        won_months += bool(won_deals)
    assert won_months > 10


def test_metrics_equal_the_scorecard_mart_per_rep_and_month(published):
    """The manager report's columns (fct_rep_scorecard) and the metrics agree on every rep-month."""
    metrics = ["won_revenue", "win_rate", "attainment", "coverage", "cycle_time", "velocity", "open_pipeline"]
    mf = _by_rep_month(_mf_rows(published, metrics, ["rep", "metric_time__month"]))
    scorecard = _published(
        published,
        """
        select rep_id, period_month, won_amount, win_rate, attainment, pipeline_coverage,
               avg_sales_cycle_days, sales_velocity_per_day, open_pipeline_amount
        from marts.fct_rep_scorecard
        """,
    )
    compared = {"attainment": 0, "coverage": 0, "velocity": 0}
    for rep, month, won, rate, attainment, coverage, cycle, velocity, pipeline in scorecard:
        row = mf.get((rep, month), {})
        key = (rep, month)
        assert (_num(row.get("won_revenue")) or Decimal(0)) == won, key
        assert _close(_num(row.get("win_rate")), rate, RATIO_TOLERANCE), (key, row, rate)
        assert _close(_num(row.get("attainment")), attainment, RATIO_TOLERANCE), (key, row, attainment)
        assert _close(_num(row.get("coverage")), coverage, RATIO_TOLERANCE), (key, row, coverage)
        assert _close(_num(row.get("cycle_time")), cycle, Decimal("0.005")), (key, row, cycle)
        assert _close(_num(row.get("velocity")), velocity, Decimal("0.005")), (key, row, velocity)
        assert (_num(row.get("open_pipeline")) or Decimal(0)) == pipeline, (key, row, pipeline)
        compared["attainment"] += attainment is not None
        compared["coverage"] += coverage is not None
        compared["velocity"] += velocity is not None
    assert all(n > 5 for n in compared.values()), compared


def test_team_win_rate_is_computed_after_summing_like_the_team_scorecard(published):
    mf = _mf_rows(published, ["won_revenue", "win_rate"], ["rep__team_name", "metric_time__month"])
    teams = {
        (team, start): (won, rate)
        for team, start, won, rate in _published(
            published,
            """
            select team_name, period_start, won_amount, win_rate from marts.fct_sales_scorecard
            where scorecard_level = 'team' and period_grain = 'month' and won_amount > 0
            """,
        )
    }
    by_team = {
        (r["rep__team_name"], _month(r["metric_time__month"])): r for r in mf if r["metric_time__month"]
    }
    assert len(teams) > 5
    for key, (won, rate) in teams.items():
        assert _num(by_team[key]["won_revenue"]) == won, key
        assert _close(_num(by_team[key]["win_rate"]), rate, RATIO_TOLERANCE), key


def test_pace_equals_the_manager_reports_pace_on_the_run_date(published):
    day = RUN_DATE.isoformat()
    mf = {
        r["rep"]: _num(r["pace"])
        for r in _mf_rows(
            published,
            ["pace"],
            ["rep", "metric_time__day"],
            f"{{{{ TimeDimension('metric_time', 'day') }}}} = '{day}'",
        )
    }
    with duckdb.connect(str(published.home / "warehouse.duckdb"), read_only=True) as conn:
        reps = [
            {"rep_id": rep, "won_amount": won, "target_amount": target}
            for rep, won, target in conn.execute(
                "select rep_id, won_amount, target_amount from marts.fct_rep_scorecard "
                "where period_month = ?",
                [RUN_DATE.replace(day=1)],
            ).fetchall()
        ]
        assert add_targets_to_date(conn, reps, RUN_DATE) == "working_days"
    paced, ahead = 0, 0
    for r in reps:
        expected = pace(r["won_amount"], r["target_to_date"])
        assert _close(mf.get(r["rep_id"]), expected, RATIO_TOLERANCE), (r, mf.get(r["rep_id"]))
        paced += expected is not None
        ahead += expected is not None and expected > 0
    assert paced > 10 and ahead >= 1, (paced, ahead)


def _month_where(month: date) -> str:
    return f"{{{{ TimeDimension('metric_time', 'month') }}}} = '{month.isoformat()}'"


def test_the_manager_report_shows_the_semantic_layers_won_revenue_and_win_rate(published):
    """The report's rep figures come from the metrics (flows/reports/semantic_figures.py), and its team
    row equals `mf query` grouped by the reps' manager (as of the run date and earlier month ends)."""
    settings = Settings(home=published.home)
    checked = 0
    for as_of in (RUN_DATE, date(2026, 10, 31), date(2026, 9, 30)):
        checked += _check_reports_against_mf(published, settings, as_of)
    assert checked >= 5, checked


def _by_day_where(as_of: date) -> str:
    """The deals closed by the report date (the report's won, deals and win rate are as of it)."""
    return f"{{{{ TimeDimension('metric_time', 'day') }}}} <= '{as_of}'"


def _check_reports_against_mf(published: Published, settings: Settings, as_of: date) -> int:
    month = as_of.replace(day=1)
    by_rep = {
        r["rep"]: r
        for r in _mf_rows(
            published,
            ["won_revenue", "win_rate"],
            ["rep", "metric_time__month"],
            _month_where(month),
            _by_day_where(as_of),
        )
    }
    by_manager = {
        r["rep__manager_id"]: r
        for r in _mf_rows(
            published,
            ["won_revenue", "win_rate"],
            ["rep__manager_id", "metric_time__month"],
            _month_where(month),
            _by_day_where(as_of),
        )
    }
    with duckdb.connect(str(published.home / "warehouse.duckdb"), read_only=True) as conn:
        figures = month_figures(conn, settings, as_of)
        reports = build_manager_reports(conn, settings, run_date=as_of)
        managers = dict(conn.execute("select email, rep_id from marts.dim_sales_reps").fetchall())
    # every rep with a deal closed this month (and the reps with only a target or pipeline)
    assert figures is not None and set(by_rep) <= set(figures.reps)
    for rep, row in by_rep.items():
        assert figures.reps[rep]["won_amount"] == _num(row["won_revenue"]), rep
        assert _close(figures.reps[rep]["win_rate"], _num(row["win_rate"]), Decimal("1e-12")), rep
    assert len(reports) > 3
    checked = 0
    for report in reports:
        fmt = Fmt(report.language, settings.reporting_currency)
        expected = by_manager.get(managers[report.recipients[0]])
        total = cells(report.html, fmt.t("team_total"))
        if expected is None:
            assert total[0] == fmt.number(0), (report.subject, total)
            continue
        assert total[0] == fmt.number(_num(expected["won_revenue"])), (report.subject, total, expected)
        assert total[6] == fmt.pct(_num(expected["win_rate"])), (report.subject, total, expected)
        checked += _num(expected["won_revenue"]) > 0
    return checked


def test_salesops_metrics_query_reads_the_published_warehouse_like_mf(published):
    """The thin CLI (flows/cli/metrics.py) needs no dbt profile or target/: same rows as `mf query`."""
    where = _month_where(RUN_DATE.replace(day=1))
    expected = {
        r["rep__team_name"]: r
        for r in _mf_rows(
            published, ["won_revenue", "win_rate"], ["rep__team_name", "metric_time__month"], where
        )
    }
    out = published.home / "cli.csv"
    env = {"SALESOPS_HOME": str(published.home)}
    args = ["metrics", "query", "-m", "won_revenue,win_rate", "-g", "rep__team_name,metric_time__month"]
    result = CliRunner().invoke(app, [*args, "-w", where, "--csv", str(out)], env=env)
    assert result.exit_code == 0, result.output
    with out.open(newline="") as fh:
        got = {r["rep__team_name"]: r for r in csv.DictReader(fh)}
    assert set(got) == set(expected) and len(got) > 3
    for team, row in got.items():
        assert _num(row["won_revenue"]) == _num(expected[team]["won_revenue"]), team
        assert _close(_num(row["win_rate"]), _num(expected[team]["win_rate"]), Decimal("1e-12")), team
    unknown = CliRunner().invoke(app, ["metrics", "query", "-m", "won_revenu"], env=env)
    assert unknown.exit_code == 1 and "unknown metric(s) ['won_revenu']" in unknown.output


# the month's won revenue as of the report date and the month's target per rep / team (attainment is
# the one over the other), and pace and target to date as of the report date
DEAL_CELLS = ["won_revenue"]
MONTH_CELLS = ["target"]
DAY_CELLS = ["target_mtd", "pace"]
PIPELINE_CELLS = ["open_pipeline", "weighted_pipeline", "target_gap", "coverage"]


def test_the_manager_reports_attainment_pace_and_coverage_are_the_metrics(published):
    """Every rep's and every team's won, target, attainment, target to date, pace, gap and coverage
    cells equal `mf query` (by rep, and by rep__manager_id for the team rows: MetricFlow sums, then
    divides), on the run date and on a past date mid-month, where won, attainment and pace must count
    only the deals won by then (attainment: that won revenue / the month's target)."""
    settings = Settings(home=published.home)
    checked = {"rep": 0, "team": 0, "coverage": 0}
    for as_of in (RUN_DATE, date(2026, 11, 10)):
        for key, n in _check_figure_cells(published, settings, as_of).items():
            checked[key] += n
    assert checked["rep"] > 20 and checked["team"] > 4 and checked["coverage"] > 5, checked


def _mf_by(published: Published, metrics: list[str], by: str, *where: str) -> dict[str, dict]:
    grain = "metric_time__day" if "pace" in metrics else "metric_time__month"
    return {r[by]: r for r in _mf_rows(published, metrics, [by, grain], *where) if r[by]}


def _check_figure_cells(published: Published, settings: Settings, as_of: date) -> dict[str, int]:
    month, day = (
        _month_where(as_of.replace(day=1)),
        f"{{{{ TimeDimension('metric_time', 'day') }}}} = '{as_of}'",
    )
    with duckdb.connect(str(published.home / "warehouse.duckdb"), read_only=True) as conn:
        reports = build_manager_reports(conn, settings, run_date=as_of)
        reps = conn.execute(
            "select rep_id, rep_name, manager_id, coalesce(left_on <= ?, not is_active, false) "
            "from marts.dim_sales_reps where manager_id is not null",
            [as_of],
        ).fetchall()
        managers = dict(conn.execute("select email, rep_id from marts.dim_sales_reps").fetchall())
    # pipeline and coverage: the reps still in the team on the date (dim_sales_reps' left_on, else is_active)
    left = [f"'{rep}'" for rep, _, _, has_left in reps if has_left]
    still_in = [f"{{{{ Entity('rep') }}}} not in ({', '.join(left)})"] if left else []
    expected = {
        by: {
            "deals": _mf_by(published, DEAL_CELLS, by, month, _by_day_where(as_of)),
            "month": _mf_by(published, MONTH_CELLS, by, month),
            "day": _mf_by(published, DAY_CELLS, by, day),
            "pipeline": _mf_by(published, PIPELINE_CELLS, by, month, *still_in),
        }
        for by in ("rep", "rep__manager_id")
    }
    counts = {"rep": 0, "team": 0, "coverage": 0}
    for report in reports:
        fmt = Fmt(report.language, settings.reporting_currency)
        manager = managers[report.recipients[0]]
        split = report.html.index(fmt.t("pipeline_title"))
        attainment_html, pipeline_html = report.html[:split], report.html[split:]
        team = [(rep, name, left) for rep, name, boss, left in reps if boss == manager and rep != manager]
        for rep, name, left in team:
            if rep not in expected["rep"]["month"] and rep not in expected["rep"]["deals"]:
                continue  # no numbers this month: not in the report or only dashes
            label = name + fmt.t("left_marker") if left else name
            _assert_attainment_cells(cells(attainment_html, label), expected["rep"], rep, fmt, (as_of, name))
            counts["rep"] += 1
            if not left:
                counts["coverage"] += _assert_pipeline_cells(
                    cells(pipeline_html, name), expected["rep"]["pipeline"].get(rep, {}), fmt, (as_of, name)
                )
        where = (as_of, report.subject)
        _assert_attainment_cells(
            cells(attainment_html, fmt.t("team_total")), expected["rep__manager_id"], manager, fmt, where
        )
        _assert_pipeline_cells(
            cells(pipeline_html, fmt.t("team_total")),
            expected["rep__manager_id"]["pipeline"].get(manager, {}),
            fmt,
            where,
        )
        counts["team"] += manager in expected["rep__manager_id"]["month"]
    return counts


def _assert_attainment_cells(got: list[str], expected: dict, key: str, fmt: Fmt, where: object) -> None:
    """won, target, attainment, target to date, pace: the report's first five cells."""
    deals, month, day = (expected[k].get(key, {}) for k in ("deals", "month", "day"))
    won, target = _num(deals.get("won_revenue")) or Decimal(0), _num(month.get("target"))
    want = [
        fmt.number(won),
        fmt.number(target),
        fmt.pct(won / target if target else None),
        fmt.number(_num(day.get("target_mtd"))),
        fmt.pct(_num(day.get("pace"))),
    ]
    assert got[:5] == want, (where, got, deals, month, day)


def _assert_pipeline_cells(got: list[str], expected: dict, fmt: Fmt, where: object) -> int:
    """open pipeline, weighted, gap, coverage (``✓`` once the target is met, ``–`` without one)."""
    gap, coverage = _num(expected.get("target_gap")), _num(expected.get("coverage"))
    cover = "–" if gap is None else "✓" if gap == 0 else f"{fmt.number(coverage or Decimal(0), 1)}×"
    want = [
        fmt.number(_num(expected.get("open_pipeline")) or Decimal(0)),
        fmt.number(_num(expected.get("weighted_pipeline")) or Decimal(0)),
        fmt.number(gap),
        cover,
    ]
    assert got == want, (where, got, expected)
    return coverage is not None


def _rep_targets(last: date, column: str) -> str:
    """Independent SQL: each rep's day-grain targets summed from 1 November to ``last``."""
    return f"""
            select rep_id, sum(target_amount) as {column}
            from marts.fct_sales_targets
            where scope_type = 'rep' and calendar_date between date '2026-11-01' and date '{last}'
            group by rep_id
        """


def _won_in_november(as_of: date) -> str:
    """Independent SQL: each rep's won amount and deals closed from 1 November to ``as_of``."""
    return f"""
            select rep_id, sum(coalesce(amount_reporting, 0)) as won_to_date, count(*) as deals_won
            from marts.fct_deals
            where stage_category = 'won' and close_date between date '2026-11-01' and date '{as_of}'
            group by rep_id
        """


def test_pace_on_a_past_date_counts_the_deals_won_by_then(published):
    """On 10 November the month's won revenue (the scorecard's, which the report's pace used before
    the semantic layer) includes deals won later in the month; the metric counts those won by the 10th
    only. Expected: independent SQL over fct_deals and the day-grain targets."""
    as_of = date(2026, 11, 10)
    mf = _mf_by(published, ["pace"], "rep", f"{{{{ TimeDimension('metric_time', 'day') }}}} = '{as_of}'")
    rows = _published(
        published,
        f"""
        with won as ({_won_in_november(as_of)}), due as ({_rep_targets(as_of, "target_to_date")})
        select due.rep_id, coalesce(won.won_to_date, 0), due.target_to_date, s.won_amount
        from due
        left join won using (rep_id)
        left join marts.fct_rep_scorecard as s on s.rep_id = due.rep_id and s.period_month = date '2026-11-01'
        where due.target_to_date > 0
        """,
    )
    later = 0
    for rep, won_to_date, target_to_date, month_won in rows:
        assert _close(_num(mf[rep]["pace"]), won_to_date / target_to_date, RATIO_TOLERANCE), rep
        later += (month_won or 0) > won_to_date
    assert len(rows) > 10 and later >= 1, (len(rows), later)


def test_a_report_for_a_past_date_counts_only_the_deals_won_by_then(published):
    """The manager report of 10 November, built from data that runs to the 28th: each rep's won amount
    and deals are those closed from 1 to 10 November, and attainment is that won amount over the whole
    month's target (docs/semantic_layer.md). Expected: independent SQL over fct_deals and the day-grain
    targets; at least one rep won a deal after the 10th that the report must not show."""
    as_of = date(2026, 11, 10)
    settings = Settings(home=published.home)
    rows = _published(
        published,
        f"""
        with won as ({_won_in_november(as_of)}),
        month_target as ({_rep_targets(date(2026, 11, 30), "target")})
        select r.rep_name, coalesce(won.won_to_date, 0), coalesce(won.deals_won, 0), t.target,
               s.won_amount
        from marts.fct_rep_scorecard as s
        join marts.dim_sales_reps as r using (rep_id)
        left join won using (rep_id)
        left join month_target as t using (rep_id)
        where s.period_month = date '2026-11-01' and coalesce(r.left_on > date '{as_of}', r.is_active, true)
        """,
    )
    with duckdb.connect(str(published.home / "warehouse.duckdb"), read_only=True) as conn:
        reports = build_manager_reports(conn, settings, run_date=as_of)
    shown = {}
    for report in reports:
        fmt = Fmt(report.language, settings.reporting_currency)
        attainment_html = report.html[: report.html.index(fmt.t("pipeline_title"))]
        for name, *_ in rows:
            if f">{name}<" in attainment_html:
                shown[name] = (fmt, cells(attainment_html, name))
    later = 0
    for name, won_to_date, deals_won, target, month_won in rows:
        if name not in shown:
            continue
        fmt, got = shown[name]
        assert got[0] == fmt.number(won_to_date), (name, got)
        assert got[2] == fmt.pct(won_to_date / target if target else None), (name, got, target)
        assert got[5].split("/")[0].strip() == str(deals_won), (name, got)
        later += (month_won or 0) > won_to_date
    assert len(shown) > 10 and later >= 1, (len(shown), later)
