"""Credentials from environment variables or Prefect Secret blocks.

A credential's env var (``SALESOPS_ZOHO_CLIENT_SECRET`` ...) wins when set; otherwise the Prefect
``Secret`` block named by the matching ``..._BLOCK`` setting is loaded from the Prefect API the
process is configured for. The value is wrapped in ``SecretStr`` at once and never appears in a
message: errors name the block and the setting, not what it holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import SecretStr


class SecretBlockError(ValueError):
    """A named Secret block could not be loaded or is empty."""


def load_secret_block(name: str, *, setting: str) -> SecretStr:
    """The value of the Prefect ``Secret`` block ``name`` (``setting`` names where it was asked for)."""
    from prefect.blocks.system import Secret

    try:
        block = Secret.load(name)
    except ValueError as exc:  # Prefect raises ValueError for an unknown block document
        raise SecretBlockError(f"Prefect Secret block {name!r} ({setting}) not found") from exc
    except Exception as exc:
        raise SecretBlockError(
            f"Prefect Secret block {name!r} ({setting}) could not be loaded: {type(exc).__name__}"
        ) from None
    value = block.get()
    if not isinstance(value, str) or not value:
        raise SecretBlockError(f"Prefect Secret block {name!r} ({setting}) is empty or not a string")
    return SecretStr(value)


def resolve_secret(value: SecretStr | None, block_name: str | None, *, setting: str) -> SecretStr | None:
    """``value`` when set (env var), else the Secret block ``block_name``, else ``None``."""
    if value is not None and value.get_secret_value():
        return value
    if block_name:
        return load_secret_block(block_name, setting=setting)
    return None


def resolve_credentials(settings: Any, names: Iterable[str]) -> tuple[dict[str, SecretStr | None], list[str]]:
    """Each credential setting in ``names`` (``zoho_client_secret`` ...) from its env var, else the
    block named by its ``<name>_block`` setting; and the names still unset, for the caller's error."""
    creds: dict[str, SecretStr | None] = {}
    for name in names:
        value = getattr(settings, name)
        creds[name] = resolve_secret(
            SecretStr(value) if isinstance(value, str) else value,
            getattr(settings, f"{name}_block", None),
            setting=f"SALESOPS_{name.upper()}_BLOCK",
        )
    return creds, [name for name, value in creds.items() if value is None]
