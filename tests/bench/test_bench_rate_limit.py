"""The bench lifts the Fxiaoke sandbox's rate limit and, with it, the pipeline's pacing to that limit.

At 100k deals the pipeline's pacing to 60 calls / 20 s per endpoint made the Fxiaoke first load 996 s of
a 1,360 s nightly while the sandbox had no limit any more: the bench measured waits, not work.
"""

from __future__ import annotations

from datetime import date

import pytest

from flows.bench.sandbox_process import SandboxProcess
from flows.config.settings import Settings, patched_environ
from flows.sandbox.company.generator import generate_company
from flows.sandbox.company.model import Company
from flows.sandbox.fxiaoke.server import FxiaokeSandbox


@pytest.fixture
def company() -> Company:  # the ``sandbox`` fixture (tests/fxiaoke_support.py) serves it
    return generate_company(seed=7, reps=4, deals=40, as_of=date(2026, 12, 5))


def test_lifting_the_limit_switches_off_the_sandbox_limit_and_the_pipelines_pacing(sandbox: FxiaokeSandbox):
    assert sandbox.faults.rate_limit_per_window == 60  # the documented limit, on by default
    process = SandboxProcess.__new__(SandboxProcess)  # only its ready.json answer, no process
    process.ready = {"fxiaoke": sandbox.base_url, "env": {"SALESOPS_HOME": "/tmp/unused"}}

    process.lift_fxiaoke_rate_limit()

    assert sandbox.faults.rate_limit_per_window is None
    env = process.env
    assert env["SALESOPS_FXIAOKE_RATE_LIMIT_CALLS"] == "0"
    with patched_environ(env):
        assert Settings().fxiaoke_rate_limit_calls == 0  # what the measured sides' settings read


def test_without_fxiaoke_nothing_changes():
    process = SandboxProcess.__new__(SandboxProcess)
    process.ready = {"env": {}}
    process.lift_fxiaoke_rate_limit()
    assert process.env == {}
