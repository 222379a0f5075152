"""Which connectors a run uses, built from settings."""

from __future__ import annotations

from flows.config.settings import Settings
from flows.crm.base import CrmConnector


def build_connectors(settings: Settings, sources: list[str] | None = None) -> list[CrmConnector]:
    """Connectors for the enabled CRMs (or the ``sources`` asked for), Zoho first."""
    from flows.crm.fxiaoke.connector import FxiaokeConnector
    from flows.crm.zoho.connector import ZohoConnector

    wanted = sources or [
        s for s, on in (("zoho", settings.zoho_enabled), ("fxiaoke", settings.fxiaoke_enabled)) if on
    ]
    unknown = set(wanted) - {"zoho", "fxiaoke"}
    if unknown:
        raise ValueError(f"unknown CRM source(s): {', '.join(sorted(unknown))} (known: zoho, fxiaoke)")
    connectors: list[CrmConnector] = []
    if "zoho" in wanted:
        connectors.append(ZohoConnector.from_settings(settings))
    if "fxiaoke" in wanted:
        connectors.append(FxiaokeConnector.from_settings(settings))
    return connectors
