"""`salesops demo`: the nightly pipeline on embedded defaults, with nothing to set up.

Starts the sandbox CRMs and a local SMTP server that writes every message to ``outbox/``,
points the pipeline's settings at them (exactly the variables a real deployment sets), and runs
the same nightly flow that the schedule runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from flows.config.settings import patched_environ
from flows.pipeline.summary import NightlySummary
from flows.sandbox.cluster import Dataset, SandboxCluster, build_company
from flows.sandbox.company.config_files import uncovered_reps, write_config_dir
from flows.sandbox.company.model import Company
from flows.sandbox.demo_home import claim_demo_home, demo_identity
from flows.sandbox.smtp_outbox import LocalSmtpServer


@contextmanager
def sandbox_services(
    home: Path, company: Company, *, config_dir: Path | None = None, port: int = 0, smtp_port: int = 0
) -> Iterator[tuple[SandboxCluster, dict[str, str]]]:
    """Sandbox CRMs serving ``company`` + a local SMTP outbox under ``home``; yields the cluster and
    the SALESOPS_* settings that point the pipeline at them (``port``/``smtp_port`` 0: free ports)."""
    home = home.expanduser().resolve()
    outbox = home / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    with SandboxCluster(company, port=port) as cluster, LocalSmtpServer(outbox, port=smtp_port) as smtp:
        env = cluster.settings_env() | {
            "SALESOPS_HOME": str(home),
            "SALESOPS_SMTP_HOST": "127.0.0.1",
            "SALESOPS_SMTP_PORT": str(smtp.port),
            "SALESOPS_SMTP_SECURITY": "plain",
        }
        if config_dir is not None:
            env["SALESOPS_CONFIG_DIR"] = str(config_dir)
        yield cluster, env


@contextmanager
def demo_environment(
    home: Path, company: Company, *, config_dir: Path | None = None
) -> Iterator[SandboxCluster]:
    """Sandbox CRMs serving ``company`` + a local SMTP outbox, and SALESOPS_* pointing at them."""
    with sandbox_services(home, company, config_dir=config_dir) as (cluster, env), patched_environ(env):
        yield cluster


def generated_config_dir(home: Path, company: Company) -> Path | None:
    """A configuration with a target for every rep of ``company`` under ``home``, when the one in
    use (``SALESOPS_CONFIG_DIR`` or the shipped ``config/``) misses a rep; None when it covers
    them all (the default demo company), so that run reads the shipped files as before."""
    from flows.config.settings import get_settings

    source = get_settings().config_path
    if not uncovered_reps(company, source):
        return None
    return write_config_dir(company, source, home.expanduser().resolve() / "generated-config")


def run_demo(
    home: Path,
    *,
    dataset: Dataset = "synthetic",
    seed: int = 42,
    reps: int = 24,
    deals: int = 1200,
    run_date: date | None = None,
    resend: bool = False,
    fresh: bool = False,
) -> NightlySummary:
    from flows.config.settings import get_settings
    from flows.nightly import nightly
    from flows.pipeline.tasks import default_run_date

    # One company per home (flows/sandbox/demo_home.py): refuse another one before anything runs.
    claim_demo_home(home, demo_identity(dataset, seed=seed, reps=reps, deals=deals), fresh=fresh)
    # One date for both the generated data and the run, so two demos on a day see the same data;
    # the Maven data set ends on 2017-12-31, so its run reports on that day unless told otherwise.
    config_dir = None
    if dataset == "maven":
        company = build_company("maven")
        run_date = run_date or company.as_of
        config_dir = get_settings().project_dir / "config" / "maven"  # the data set's example targets/plan
    else:
        run_date = run_date or default_run_date(get_settings())
        company = build_company(dataset, seed=seed, reps=reps, deals=deals, as_of=run_date)
        config_dir = generated_config_dir(home, company)
    with demo_environment(home, company, config_dir=config_dir):
        return nightly(run_date=run_date, resend=resend)
