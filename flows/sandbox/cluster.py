"""Both sandbox CRMs together, as the demo, the CLI and the end-to-end tests run them.

``SandboxCluster`` starts the Zoho accounts server, the Zoho API server (a distinct
``api_domain``) and the Fxiaoke gateway on loopback ports, and tells the pipeline how to reach
them through the same ``SALESOPS_*`` settings a real deployment uses. Nothing in the pipeline
knows it is talking to a sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from flows.sandbox.company.generator import generate_company
from flows.sandbox.company.model import Company
from flows.sandbox.fxiaoke.server import FxiaokeSandbox
from flows.sandbox.zoho.server import ZohoSandbox

Dataset = Literal["synthetic", "maven"]


def build_company(
    dataset: Dataset = "synthetic",
    *,
    seed: int = 42,
    reps: int = 24,
    deals: int = 1200,
    as_of: date | None = None,
) -> Company:
    """The data the sandbox serves: the seeded generator, or the Maven CRM data set."""
    if dataset == "maven":
        from flows.sandbox.maven import load_maven_company

        return load_maven_company()
    return generate_company(seed=seed, reps=reps, deals=deals, as_of=as_of)


@dataclass
class SandboxCluster:
    company: Company
    host: str = "127.0.0.1"
    port: int = 0  # 0: pick free ports; N: Zoho accounts N, Zoho API N+1, Fxiaoke N+2

    def __post_init__(self) -> None:
        p = self.port
        self.zoho = ZohoSandbox(self.company, host=self.host, accounts_port=p, api_port=p + 1 if p else 0)
        self.fxiaoke: FxiaokeSandbox | None = None
        if self.company.for_crm("fxiaoke").users:
            self.fxiaoke = FxiaokeSandbox(self.company, host=self.host, port=p + 2 if p else 0)

    def start(self) -> SandboxCluster:
        self.zoho.start()
        if self.fxiaoke:
            self.fxiaoke.start()
        return self

    def stop(self) -> None:
        self.zoho.stop()
        if self.fxiaoke:
            self.fxiaoke.stop()

    def __enter__(self) -> SandboxCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def settings_env(self) -> dict[str, str]:
        """``SALESOPS_*`` variables that point the pipeline at this sandbox (demo credentials)."""
        env = {
            "SALESOPS_ZOHO_ENABLED": "true",
            "SALESOPS_ZOHO_ACCOUNTS_URL": self.zoho.accounts_url,
            "SALESOPS_ZOHO_CLIENT_ID": ZohoSandbox.CLIENT_ID,
            "SALESOPS_ZOHO_CLIENT_SECRET": ZohoSandbox.CLIENT_SECRET,
            "SALESOPS_ZOHO_REFRESH_TOKEN": ZohoSandbox.REFRESH_TOKEN,
            "SALESOPS_FXIAOKE_ENABLED": "true" if self.fxiaoke else "false",
        }
        if self.fxiaoke:
            env.update(
                {
                    "SALESOPS_FXIAOKE_BASE_URL": self.fxiaoke.base_url,
                    "SALESOPS_FXIAOKE_APP_ID": FxiaokeSandbox.APP_ID,
                    "SALESOPS_FXIAOKE_APP_SECRET": FxiaokeSandbox.APP_SECRET,
                    "SALESOPS_FXIAOKE_PERMANENT_CODE": FxiaokeSandbox.PERMANENT_CODE,
                    "SALESOPS_FXIAOKE_OPEN_USER_ID": FxiaokeSandbox.ADMIN_OPEN_USER_ID,
                }
            )
        return env

    def describe(self) -> str:
        """What `salesops sandbox serve` prints at start-up."""
        lines = [
            f"Zoho CRM v8 sandbox ({len(self.company.for_crm('zoho').deals)} deals)",
            f"  accounts server : {self.zoho.accounts_url}   (POST /oauth/v2/token)",
            f"  api_domain      : {self.zoho.api_url}   (GET /crm/v8/Deals ...; admin: /__admin/stats)",
            f"  client id       : {ZohoSandbox.CLIENT_ID}",
            f"  client secret   : {ZohoSandbox.CLIENT_SECRET}",
            f"  refresh token   : {ZohoSandbox.REFRESH_TOKEN}",
        ]
        if self.fxiaoke:
            lines += [
                f"Fxiaoke OpenAPI sandbox ({len(self.company.for_crm('fxiaoke').deals)} opportunities)",
                f"  gateway         : {self.fxiaoke.base_url}   (POST /cgi/corpAccessToken/get/V2;"
                " admin: /__admin/stats)",
                f"  appId           : {FxiaokeSandbox.APP_ID}",
                f"  appSecret       : {FxiaokeSandbox.APP_SECRET}",
                f"  permanentCode   : {FxiaokeSandbox.PERMANENT_CODE}",
                f"  currentOpenUserId: {FxiaokeSandbox.ADMIN_OPEN_USER_ID}",
            ]
        return "\n".join(lines)
