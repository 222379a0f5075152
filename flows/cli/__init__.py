"""The `salesops` command, one module per command group."""

from flows.cli.main import main

__all__ = ["main"]
