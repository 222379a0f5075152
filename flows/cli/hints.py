"""What to do next, printed under a failure whose cause the operator can fix by a setting."""

from __future__ import annotations

#: The temporary Prefect server a command starts was too slow (docs/operations.md).
EPHEMERAL_SERVER_HINT = (
    "The temporary Prefect server did not start in time (a busy machine?). Give it longer: "
    "export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=120; or start one server "
    "(`prefect server start`) and export PREFECT_API_URL=http://127.0.0.1:4200/api"
)

#: A CRM is not configured: after `salesops demo`, the sandbox is the usual target.
CRM_SETTINGS_HINT = (
    "No CRM settings in the environment. To run against the local sandbox: start `salesops sandbox up` "
    "(another terminal), then `set -a; . data/sandbox.env; set +a` (README.md, 'Pointing it at your CRM')."
)


def failure_hint(exc: BaseException) -> str | None:
    """The hint for ``exc``, when there is one."""
    text = str(exc)
    if "ephemeral Prefect API server" in text:
        return EPHEMERAL_SERVER_HINT
    if "SALESOPS_ZOHO_" in text or "SALESOPS_FXIAOKE_" in text:
        return CRM_SETTINGS_HINT
    return None
