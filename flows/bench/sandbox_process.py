"""The benchmark's sandbox CRMs (and SMTP outbox) in a process of their own.

The parent starts ``python -m flows.bench.sandbox_process <spec.json>``; the child generates the
company, writes the configuration every generated rep needs (targets, plans, calendar:
:func:`flows.cli.demo.generated_config_dir`), serves it, and writes ``ready.json`` (the
``SALESOPS_*`` settings, the admin URLs, how long generation took and what it weighed) next to
the spec. It serves until SIGTERM. Keeping the CRMs out of the pipeline's process is what makes the
pipeline's CPU and peak RSS its own (issue 14).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import requests

from flows.sandbox.cluster import SandboxCluster
from flows.sandbox.company.model import Company

READY = "ready.json"


@dataclass(frozen=True)
class CompanySpec:
    home: Path
    reps: int
    deals: int
    seed: int
    as_of: date


def _config_for(home: Path, company: Company) -> Path | None:
    """As the demo does: the shipped config when it covers every rep, else one generated for all."""
    from flows.config.settings import get_settings
    from flows.sandbox.company.config_files import uncovered_reps, write_config_dir

    source = get_settings().config_path
    if not uncovered_reps(company, source):
        return None
    return write_config_dir(company, source, home / "generated-config")


@contextmanager
def _services(
    home: Path, company: Company, config_dir: Path | None
) -> Iterator[tuple[SandboxCluster, dict[str, str]]]:
    """Both CRMs and an SMTP outbox under ``home``, and the SALESOPS_* settings pointing at them
    (what ``salesops demo`` starts; flows/cli/demo.py)."""
    from flows.sandbox.smtp_outbox import LocalSmtpServer

    outbox = home / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    with SandboxCluster(company) as cluster, LocalSmtpServer(outbox) as smtp:
        env = cluster.settings_env() | {
            "SALESOPS_HOME": str(home),
            "SALESOPS_SMTP_HOST": "127.0.0.1",
            "SALESOPS_SMTP_PORT": str(smtp.port),
            "SALESOPS_SMTP_SECURITY": "plain",
        }
        if config_dir is not None:
            env["SALESOPS_CONFIG_DIR"] = str(config_dir)
        yield cluster, env


def _stop_with_parent(stop: threading.Event, parent: int) -> None:
    """Stop serving when the bench that started us is gone (killed before it could SIGTERM us)."""
    while not stop.wait(5):
        if os.getppid() != parent:
            stop.set()


def _serve(spec_path: Path) -> None:
    from flows.sandbox.cluster import build_company

    raw = json.loads(spec_path.read_text())
    home = Path(raw["home"])
    started, cpu = time.perf_counter(), time.process_time()
    company = build_company(
        "synthetic",
        seed=raw["seed"],
        reps=raw["reps"],
        deals=raw["deals"],
        as_of=date.fromisoformat(raw["as_of"]),
    )
    config_dir = _config_for(home, company)
    generated = {
        "wall_s": round(time.perf_counter() - started, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "deals": len(company.deals),
        "reps": sum(1 for u in company.users if u.role == "rep"),
    }
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=_stop_with_parent, args=(stop, os.getppid()), daemon=True).start()
    with _services(home, company, config_dir) as (cluster, env):
        # The company and the stores' indexes live as long as the process: out of the collector's
        # walks, so a collection while serving scans the request's objects, not millions of rows.
        gc.freeze()
        ready = {
            "env": env,
            "zoho_api": cluster.zoho.api_url,
            "fxiaoke": cluster.fxiaoke.base_url if cluster.fxiaoke else None,
            "generated": generated,
        }
        tmp = spec_path.parent / (READY + ".tmp")
        tmp.write_text(json.dumps(ready))
        tmp.replace(spec_path.parent / READY)
        stop.wait()


class SandboxProcess:
    """Start, reach and stop the sandbox child; read its counters and change its data over HTTP."""

    def __init__(self, spec: CompanySpec, workdir: Path, *, start_timeout: float = 7200.0):
        self.spec, self.workdir, self.start_timeout = spec, workdir, start_timeout
        self.proc: subprocess.Popen | None = None
        self.ready: dict[str, Any] = {}

    def __enter__(self) -> SandboxProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / READY).unlink(missing_ok=True)
        spec_path = self.workdir / "spec.json"
        spec_path.write_text(
            json.dumps(
                {
                    "home": str(self.spec.home),
                    "reps": self.spec.reps,
                    "deals": self.spec.deals,
                    "seed": self.spec.seed,
                    "as_of": self.spec.as_of.isoformat(),
                }
            )
        )
        log = (self.workdir / "sandbox.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flows.bench.sandbox_process", str(spec_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
        deadline = time.monotonic() + self.start_timeout
        while not (self.workdir / READY).exists():
            if self.proc.poll() is not None:
                tail = (self.workdir / "sandbox.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the sandbox process exited with {self.proc.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                self.__exit__()
                raise TimeoutError(f"the sandbox was not serving after {self.start_timeout:.0f} s")
            time.sleep(0.5)
        self.ready = json.loads((self.workdir / READY).read_text())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def env(self) -> dict[str, str]:
        return dict(self.ready["env"])

    def stats(self) -> dict[str, dict[str, int]]:
        """Requests per endpoint, per CRM, as each sandbox's ``GET /__admin/stats`` counts them."""
        out = {"zoho": requests.get(f"{self.ready['zoho_api']}/__admin/stats", timeout=60).json()["requests"]}
        if self.ready.get("fxiaoke"):
            answer = requests.get(f"{self.ready['fxiaoke']}/__admin/stats", timeout=60).json()
            out["fxiaoke"] = answer["requests"]
        return out

    def lift_fxiaoke_rate_limit(self) -> None:
        """Switch off the Fxiaoke sandbox's per-endpoint limit (60 calls / 20 s by default), and the
        pipeline's pacing ahead of it in the settings the measured sides get: pacing to a limit the
        sandbox no longer has would measure waits again (at 100k deals, 996 s of a 1,360 s nightly)."""
        if self.ready.get("fxiaoke"):
            answer = requests.post(
                f"{self.ready['fxiaoke']}/__admin/faults", json={"rate_limit_per_window": None}, timeout=60
            )
            answer.raise_for_status()
            self.ready["env"]["SALESOPS_FXIAOKE_RATE_LIMIT_CALLS"] = "0"

    def change_deals(self, share: float) -> dict[str, int]:
        """Update ``share`` of each CRM's deals "now" (Fxiaoke: with a stage move); counts per CRM."""
        changed: dict[str, int] = {}
        zoho = max(1, round(self.spec.deals * share * self._zoho_share()))
        answer = requests.post(
            f"{self.ready['zoho_api']}/__admin/simulate",
            json={"module": "Deals", "update": zoho},
            timeout=3600,
        )
        answer.raise_for_status()
        changed["zoho"] = len(answer.json().get("updated", []))
        if self.ready.get("fxiaoke"):
            fx = max(1, round(self.spec.deals * share * (1 - self._zoho_share())))
            answer = requests.post(
                f"{self.ready['fxiaoke']}/__admin/simulate",
                json={"obj": "OpportunityObj", "update": fx, "advance_stage": True},
                timeout=3600,
            )
            answer.raise_for_status()
            changed["fxiaoke"] = len(answer.json().get("updated", []))
        return changed

    def _zoho_share(self) -> float:
        records = requests.get(f"{self.ready['zoho_api']}/__admin/stats", timeout=60).json()["records"]
        return min(1.0, records.get("Deals", 0) / max(1, self.spec.deals))


if __name__ == "__main__":
    _serve(Path(sys.argv[1]))
