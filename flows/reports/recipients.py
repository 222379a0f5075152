"""Who gets which report, and in which language: ``config/recipients.yml`` (:class:`RecipientsConfig`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import yaml

from flows.config.settings import Settings
from flows.reports.formatting import LANGUAGES

log = logging.getLogger(__name__)


@dataclass
class RecipientsConfig:
    """``config/recipients.yml``: distribution lists and language per recipient (see the file)."""

    default_language: str = "en"
    language_by_source: dict[str, str] = field(default_factory=dict)
    people: dict[str, dict] = field(default_factory=dict)  # lower-case e-mail -> {language}
    lists: dict[str, list[str]] = field(default_factory=dict)
    statements_cc_manager: bool = False

    def language_for(self, email: str | None, source: str | None = None) -> str:
        person = self.people.get((email or "").lower(), {})
        lang = person.get("language") or self.language_by_source.get(source or "") or self.default_language
        return lang if lang in LANGUAGES else "en"

    def distribution(self, name: str) -> list[str]:
        return list(self.lists.get(name, []))


def load_recipients(settings: Settings) -> RecipientsConfig:
    """Read recipients.yml; a missing file means defaults (language from settings, no lists)."""
    path = settings.recipients_path
    if not path.exists():
        return RecipientsConfig(default_language=settings.report_language)
    raw = yaml.safe_load(path.read_text("utf-8")) or {}
    known = {"defaults", "language_by_source", "people", "lists", "statements"}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)} (expected {sorted(known)})")
    defaults = raw.get("defaults") or {}
    cfg = RecipientsConfig(
        default_language=defaults.get("language", settings.report_language),
        language_by_source=dict(raw.get("language_by_source") or {}),
        people={str(k).lower(): dict(v or {}) for k, v in (raw.get("people") or {}).items()},
        lists={
            str(name): [str(a).strip() for a in (addresses or []) if str(a).strip()]
            for name, addresses in (raw.get("lists") or {}).items()
        },
        statements_cc_manager=bool((raw.get("statements") or {}).get("cc_manager", False)),
    )
    for where, lang in [
        ("defaults.language", cfg.default_language),
        *((f"language_by_source.{k}", v) for k, v in cfg.language_by_source.items()),
        *((f"people.{k}.language", v.get("language")) for k, v in cfg.people.items() if v.get("language")),
    ]:
        if lang not in LANGUAGES:
            raise ValueError(f"{path}: {where}: {lang!r} is not one of {', '.join(LANGUAGES)}")
    return cfg


def alert_recipients(settings: Settings, recipients: RecipientsConfig | None = None) -> list[str]:
    """The data engineers: recipients.yml list ``data_engineers``, else SALESOPS_ALERT_RECIPIENTS."""
    try:
        listed = (recipients or load_recipients(settings)).distribution("data_engineers")
    except (OSError, ValueError, yaml.YAMLError) as exc:  # a broken file must not swallow the alert
        log.error("recipients.yml unreadable, alerting SALESOPS_ALERT_RECIPIENTS: %s", exc)
        listed = []
    return listed or settings.alert_recipient_list
