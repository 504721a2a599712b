"""The console logger of every crmclean job: Dagster's colored console, without stack traces for
data faults.

A bad file, a refused login or a failed check is the input's fault: its message names the file,
line and reason, and a stack trace would only bury it (also under `crmclean run --verbose`). A
bug keeps its stack trace. The UI's event log keeps every error whole either way: it is stored
apart from what the console prints.
"""

import logging

import dagster as dg

from assets.alerts import DATA_FAILURES, error_classes


def _is_trace_line(line: str) -> bool:
    return line.startswith((" ", "\t")) or line.strip() in (
        "Stack Trace:",
        "The above exception was caused by the following exception:",
        "The above exception occurred during handling of the following exception:",
    )


class ShortDataFaults(logging.Filter):
    """Drops the stack trace from the record of an event whose error is a data fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
        error = getattr(getattr(event, "event_specific_data", None), "error", None)
        if error is not None and error_classes(error) & DATA_FAILURES:
            lines = str(record.msg).splitlines()
            kept = [line for line in lines if line.strip() and not _is_trace_line(line)]
            record.msg, record.args = "\n".join(kept), ()
        return True


@dg.logger(
    {
        "log_level": dg.Field(str, is_required=False, default_value="INFO"),
        "name": dg.Field(str, is_required=False, default_value="dagster"),
    },
    description="Dagster's colored console logger; data faults without a stack trace.",
)
def console(init_context: dg.InitLoggerContext) -> logging.Logger:
    log = dg.colored_console_logger.logger_fn(init_context)
    for handler in log.handlers:
        handler.addFilter(ShortDataFaults())
    return log
