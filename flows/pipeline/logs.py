"""The project's own log lines (``salesops`` and every ``flows.*`` module logger) in Prefect's run log.

Prefect sends only its own loggers (and ``PREFECT_LOGGING_EXTRA_LOGGERS``, read once when Prefect
configures logging, before any of our code runs in a worker's flow-run process) to the API. So every
flow calls :func:`route_project_logs` first: it attaches Prefect's API log handler to the project
loggers, at INFO, once per process. The handler only ships records made inside a flow or task run;
lines from other threads of the same process (the demo's sandbox servers, the SMTP outbox) are not
part of any run and stay out. The console is unchanged: the CLI's stderr handler stays at WARNING
(``flows/cli/main.py``); a worker prints what Prefect's console handler prints.
"""

from __future__ import annotations

import logging

#: The project's logger names: ``salesops`` (the run's own lines) and the module loggers ``flows.*``.
PROJECT_LOGGERS = ("salesops", "flows")


class _InRunOnly(logging.Filter):
    """Pass a record only when it was made inside a Prefect flow or task run."""

    def filter(self, record: logging.LogRecord) -> bool:
        from prefect.context import FlowRunContext, TaskRunContext

        return bool(getattr(record, "flow_run_id", None) or FlowRunContext.get() or TaskRunContext.get())


def route_project_logs(level: int = logging.INFO) -> None:
    """Attach Prefect's API log handler to the project loggers (idempotent)."""
    from prefect.logging.handlers import APILogHandler

    for name in PROJECT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, APILogHandler) for h in logger.handlers):
            handler = APILogHandler()
            handler.addFilter(_InRunOnly())
            logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > level:
            logger.setLevel(level)
