"""Issue 13 item 11: ``recipients.yml`` takes one plain e-mail address per entry and its errors name
the file, the line and the entry.

It used to accept malformed, comma-joined or newline-containing addresses (a comma-joined entry
reached the SMTP server as one recipient; a newline is a header injection), and a YAML error did
not say which file it was in.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.config.errors import ConfigError
from flows.config.settings import Settings
from flows.reports.recipients import alert_recipients, load_recipients

GOOD = """\
defaults:
  language: en
people:
  wang.wei@example.com: {language: zh-CN}
lists:
  finance:
    - finance@example.com
  data_engineers:
    - de@example.com
"""


def _settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "config" / "recipients.yml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return Settings(home=tmp_path / "home", recipients_file=path, alert_recipients="fallback@example.com")


def test_the_shipped_shape_still_loads(tmp_path: Path) -> None:
    cfg = load_recipients(_settings(tmp_path, GOOD))
    assert cfg.distribution("finance") == ["finance@example.com"]
    assert cfg.language_for("Wang.Wei@example.com") == "zh-CN"


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ('"finance@example.com, cfo@example.com"', "is not one e-mail address"),
        ('"finance@example.com\\nBcc: spy@example.com"', "is not one e-mail address"),
        ("finance.example.com", "is not an e-mail address"),
        ('"Finance <finance@example.com>"', "is not an e-mail address"),
        ("finance@example", "is not an e-mail address"),
    ],
)
def test_a_bad_list_address_is_rejected_naming_file_line_and_entry(
    tmp_path: Path, entry: str, reason: str
) -> None:
    text = GOOD.replace("    - finance@example.com", f"    - ok@example.com\n    - {entry}")
    with pytest.raises(ConfigError) as err:
        load_recipients(_settings(tmp_path, text))
    message = str(err.value)
    assert message.startswith("config/recipients.yml line 8, field lists.finance[1]: "), message
    assert reason in message


def test_a_bad_person_address_is_rejected(tmp_path: Path) -> None:
    text = GOOD.replace("wang.wei@example.com:", "'wang.wei@example.com;li@example.com':")
    with pytest.raises(ConfigError, match=r"^config/recipients\.yml line 4, field people\."):
        load_recipients(_settings(tmp_path, text))


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    text = GOOD.replace("  finance:\n", "  finance: [\n")
    with pytest.raises(ConfigError, match=r"^config/recipients\.yml line \d+: not valid YAML"):
        load_recipients(_settings(tmp_path, text))


def test_a_broken_file_still_lets_the_alert_go_to_the_fallback(tmp_path: Path) -> None:
    settings = _settings(tmp_path, GOOD.replace("- de@example.com", "- de@example.com, x@example.com"))
    assert alert_recipients(settings) == ["fallback@example.com"]
