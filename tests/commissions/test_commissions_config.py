"""The commission part of the configuration load: deal_splits.csv (validated, loaded into
config.deal_splits) and commission_plan.yml parsed by the one plan parser (flows.config.commission_plan),
every component type accepted."""

from __future__ import annotations

import shutil
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

from flows.config.errors import ConfigError
from flows.config.loader import load_config
from flows.config.settings import PROJECT_DIR

HEADER = "source,deal_id,rep,share,split_type\n"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(PROJECT_DIR / "config", target)
    return target


@pytest.fixture
def conn():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_deal_splits_load_as_exact_decimals(conn, config_dir: Path) -> None:
    (config_dir / "deal_splits.csv").write_text(
        HEADER
        + "zoho,5001,Ana@x.com,0.6,revenue\n"
        + "zoho,5001,bo@x.com,0.4,revenue\n"
        + "zoho,5001,cy@x.com,0.7,overlay\n"
        + "zoho,5001,di@x.com,0.5,overlay\n"  # overlays total 120 %: allowed
        + "fxiaoke,77,ana@x.com,1,revenue\n",
        encoding="utf-8",
    )
    assert load_config(conn, config_dir)["deal_splits"] == 5
    rows = conn.execute(
        "select source, source_deal_id, rep_email, split_share, split_type, source_row "
        "from config.deal_splits order by source_row"
    ).fetchall()
    assert rows[0] == ("zoho", "5001", "ana@x.com", D("0.600000"), "revenue", 2)
    assert rows[3] == ("zoho", "5001", "di@x.com", D("0.500000"), "overlay", 5)
    assert sum(r[3] for r in rows if r[4] == "overlay") == D("1.2")


def test_no_deal_splits_file_is_an_empty_table(conn, config_dir: Path) -> None:
    (config_dir / "deal_splits.csv").unlink()
    assert load_config(conn, config_dir)["deal_splits"] == 0
    assert conn.execute("select count(*) from config.deal_splits").fetchone() == (0,)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            "zoho,5001,ana@x.com,0.6,revenue\nzoho,5001,bo@x.com,0.3,revenue\n",
            "config/deal_splits.csv row 3, field share: the revenue splits of zoho deal 5001 (rows 2, 3) "
            "total 0.9; they must total exactly 1 (100 %)",
        ),
        (
            "zoho,5001,ana@x.com,0.6,revenue\nzoho,5001,bo@x.com,0.6,revenue\n",
            "config/deal_splits.csv row 3, field share: the revenue splits of zoho deal 5001 (rows 2, 3) "
            "total 1.2; they must total exactly 1 (100 %)",
        ),
        (
            "zoho,5001,ana@x.com,1,revenue\nzoho,5001,bo@x.com,0.5,bonus\n",
            "config/deal_splits.csv row 3, field split_type: 'bonus' is not one of revenue, overlay",
        ),
        (
            "salesforce,5001,ana@x.com,1,revenue\n",
            "config/deal_splits.csv row 2, field source: 'salesforce' is not one of zoho, fxiaoke",
        ),
        (
            "zoho,5001,ana@x.com,1.5,overlay\n",
            "config/deal_splits.csv row 2, field share: 1.5 must be > 0 and <= 1 (a fraction: 0.6 = 60 %)",
        ),
        (
            "zoho,5001,ana@x.com,60%,revenue\n",
            "config/deal_splits.csv row 2, field share: '60%' is not a number",
        ),
        (
            "zoho,5001,ana,1,revenue\n",
            "config/deal_splits.csv row 2, field rep: 'ana' is not a rep email address",
        ),
        (
            "zoho,,ana@x.com,1,revenue\n",
            "config/deal_splits.csv row 2, field deal_id: the CRM deal id is required",
        ),
        (
            "zoho,5001,ana@x.com,1,revenue\nzoho,5001,ANA@x.com,0.2,revenue\n",
            "config/deal_splits.csv row 3, field rep: ana@x.com has a second revenue split on zoho deal 5001 "
            "(first in row 2)",
        ),
    ],
)
def test_a_bad_deal_splits_file_is_rejected_naming_file_row_and_field(
    conn, config_dir, rows, message
) -> None:
    (config_dir / "deal_splits.csv").write_text(HEADER + rows, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(conn, config_dir)
    assert str(err.value) == message
    # nothing was loaded
    assert conn.execute(
        "select count(*) from information_schema.tables where table_schema = 'config'"
    ).fetchone() == (0,)


ALL_TYPES = """plans:
  - plan_id: ALL
    version: 1
    effective_from: 2026-01-01
    currency: USD
    caps: {per_year: 90000.00}
    components:
      - component: bookings
        type: tiered_retroactive
        tier_position: per_transaction
        measure: monthly_credited_amount
        tiers:
          - {band_lower: 0, band_upper: 10000, rate: 0.03}
          - {band_lower: 10000, band_upper: null, rate: 0.05}
      - component: collections
        type: flat
        credit_on: collection
        rate: 0.01
      - component: team
        type: override
        rate: 0.005
      - component: quota_bonus
        type: bonus
        milestones:
          - {attainment: 1.00, amount: 500.00}
      - component: marginal
        type: tiered_marginal
        tiers:
          - {band_lower: 0.00, band_upper: 1.00, rate: 0.02}
          - {band_lower: 1.00, band_upper: null, rate: 0.04}
assignments:
  - {plan_id: ALL, role: rep, valid_from: 2026-01-01}
  - {plan_id: ALL, rep_id: "zoho:42", valid_from: 2026-01-01}
"""


def test_the_loader_accepts_every_component_type_through_the_plan_parser(conn, config_dir) -> None:
    (config_dir / "commission_plan.yml").write_text(ALL_TYPES, encoding="utf-8")
    counts = load_config(conn, config_dir)
    assert counts["commission_plans"] == 1
    assert conn.execute(
        "select component, component_type, tier_position, rate from config.commission_plan_components "
        "order by component"
    ).fetchall() == [
        ("bookings", "tiered_retroactive", "per_transaction", None),
        ("collections", "flat", "running", D("0.010000")),
        ("marginal", "tiered_marginal", "running", None),
        ("quota_bonus", "bonus", "running", None),
        ("team", "override", "running", D("0.005000")),
    ]
    assert counts["commission_plan_tiers"] == 4
    assert conn.execute("select rep_id from config.commission_plan_assignments order by 1").fetchall() == [
        ("zoho:42",),
        (None,),
    ]


def test_a_bad_plan_fails_the_load_with_the_plan_parsers_message(conn, config_dir) -> None:
    (config_dir / "commission_plan.yml").write_text(
        ALL_TYPES.replace("type: override", "type: overide"), encoding="utf-8"
    )
    with pytest.raises(
        ConfigError,
        match=r"^config/commission_plan.yml line 20 \(plans\[0\].components\[2\].type\): 'overide'",
    ):
        load_config(conn, config_dir)
    (config_dir / "commission_plan.yml").write_text(ALL_TYPES.split("assignments:")[0], encoding="utf-8")
    with pytest.raises(ConfigError, match="a non-empty list of assignments is required"):
        load_config(conn, config_dir)
