"""The example configuration shipped for the Maven data set loads and covers every agent."""

from __future__ import annotations

from pathlib import Path

import duckdb

from flows.config.loader import load_config
from flows.sandbox.maven import load_maven_company

MAVEN_CONFIG = Path(__file__).resolve().parents[2] / "config" / "maven"


def test_maven_config_loads_with_a_target_for_every_agent_and_month() -> None:
    company = load_maven_company()
    agents = {u.email for u in company.users if u.role == "rep"}
    with duckdb.connect() as conn:
        counts = load_config(conn, MAVEN_CONFIG)
        assert counts["commission_plans"] == 2
        targets = conn.execute(
            "select scope_key, count(*) from config.targets where scope_type = 'rep' group by 1"
        ).fetchall()
        teams = {
            k
            for (k,) in conn.execute(
                "select scope_key from config.targets where scope_type = 'team'"
            ).fetchall()
        }
    assert {email for email, _ in targets} == agents  # all 35, including the 5 with no deals
    assert {months for _, months in targets} == {15}  # Oct 2016 - Dec 2017
    assert teams == {u.team for u in company.users if u.role == "rep"}
