"""Who gets which report, and in which language: ``config/recipients.yml`` (:class:`RecipientsConfig`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from flows.config import fields
from flows.config.errors import ConfigError, where
from flows.config.settings import Settings
from flows.config.yaml_lines import load_yaml, locate
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
    """Read recipients.yml; a missing file means defaults (language from settings, no lists).

    Read with the config files' YAML reader, so every error is a :class:`ConfigError` naming the
    file, the line and the entry (``config/recipients.yml line 14, field lists.finance[0]: ...``);
    every address is one plain e-mail address (:func:`flows.config.fields.email_address`).
    """
    path = settings.recipients_path
    if not path.exists():
        return RecipientsConfig(default_language=settings.report_language)
    name = f"{path.parent.name}/{path.name}"
    raw = load_yaml(path.read_text("utf-8"), name, ConfigError) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: expected a mapping with keys {', '.join(_KEYS)}")

    def at(*loc: Any) -> str:
        line, field = locate(raw, loc)
        return where(name, line, field or None, line=True)

    unknown = sorted(str(k) for k in set(raw) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{at(unknown[0])}: unknown key (expected one of {', '.join(_KEYS)})")
    defaults = _mapping(raw, "defaults", at)
    return RecipientsConfig(
        default_language=_language(
            defaults.get("language", settings.report_language), at, "defaults", "language"
        ),
        language_by_source={
            str(k): _language(v, at, "language_by_source", k)
            for k, v in _mapping(raw, "language_by_source", at).items()
        },
        people=_people(raw, at),
        lists=_lists(raw, at),
        statements_cc_manager=bool(_mapping(raw, "statements", at).get("cc_manager", False)),
    )


_KEYS = ("defaults", "language_by_source", "people", "lists", "statements")


def _mapping(node: dict, key: str, at: Callable[..., str]) -> dict:
    value = node.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{at(key)}: expected a mapping")
    return value


def _language(value: Any, at: Callable[..., str], *loc: Any) -> str:
    if value not in LANGUAGES:
        raise ConfigError(f"{at(*loc)}: {value!r} is not one of {', '.join(LANGUAGES)}")
    return str(value)


def _address(value: Any, at: Callable[..., str], *loc: Any) -> str:
    try:
        return fields.email_address(value)
    except ValueError as exc:
        raise ConfigError(f"{at(*loc)}: {exc}") from None


def _people(raw: dict, at: Callable[..., str]) -> dict[str, dict]:
    people: dict[str, dict] = {}
    for key, person in _mapping(raw, "people", at).items():
        address = _address(key, at, "people", key).lower()
        person = person or {}
        if not isinstance(person, dict):
            raise ConfigError(f"{at('people', key)}: expected a mapping such as {{language: en}}")
        if person.get("language") is not None:
            _language(person["language"], at, "people", key, "language")
        people[address] = dict(person)
    return people


def _lists(raw: dict, at: Callable[..., str]) -> dict[str, list[str]]:
    lists: dict[str, list[str]] = {}
    for list_name, addresses in _mapping(raw, "lists", at).items():
        entries = [addresses] if isinstance(addresses, str) else addresses or []
        if not isinstance(entries, list):
            raise ConfigError(f"{at('lists', list_name)}: expected a list of e-mail addresses")
        lists[str(list_name)] = [
            _address(a, at, "lists", list_name, i)
            for i, a in enumerate(entries)
            if a is not None and str(a).strip()
        ]
    return lists


def alert_recipients(settings: Settings, recipients: RecipientsConfig | None = None) -> list[str]:
    """The data engineers: recipients.yml list ``data_engineers``, else SALESOPS_ALERT_RECIPIENTS."""
    try:
        listed = (recipients or load_recipients(settings)).distribution("data_engineers")
    except (OSError, ValueError, yaml.YAMLError) as exc:  # a broken file must not swallow the alert
        log.error("recipients.yml unreadable, alerting SALESOPS_ALERT_RECIPIENTS: %s", exc)
        listed = []
    return listed or settings.alert_recipient_list
