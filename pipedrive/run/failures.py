"""What a failed run says: one line that names what failed and what to do, and the exit code the
command line (or an orchestrator task) ends with."""

import re
from typing import Iterator, Optional, Tuple

from dlt.common.configuration.exceptions import ConfigFieldMissingException

from .lock import RunInProgressError
from ..http.errors import (
    DailyBudgetExceededError,
    PipedriveConfigError,
    PipedriveError,
    TokenBudgetExceededError,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED_EARLY, EXIT_RUN_IN_PROGRESS, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
_UNWRITABLE_FILE = re.compile(r'Cannot open file "([^"]+)": ([^\n]+)')
NO_TOKEN = (
    "no Pipedrive API token: set SOURCES__PIPEDRIVE__API_TOKEN or api_token under "
    "[sources.pipedrive] in .dlt/secrets.toml (or try --demo)"
)


class UsageError(Exception):
    """Bad input or configuration of a run: one line, exit code 2, nothing loaded."""


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it was raised from, outermost first."""
    seen = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def describe_failure(exc: BaseException) -> Tuple[str, int]:
    """One line saying what failed and what to do, and the exit code.

    Args:
        exc: What the run raised (dlt wraps source errors in `PipelineStepFailed`).

    Returns:
        `(message, exit_code)`.
    """
    chain = list(_causes(exc))
    for cause in chain:
        if isinstance(cause, RunInProgressError):
            return str(cause), EXIT_RUN_IN_PROGRESS
        if isinstance(cause, (UsageError, PipedriveConfigError)):
            return str(cause), EXIT_USAGE
        if isinstance(cause, (DailyBudgetExceededError, TokenBudgetExceededError)):
            return f"stopped early: {cause}", EXIT_STOPPED_EARLY
        if isinstance(cause, PipedriveError):
            return str(cause), EXIT_FAILED
        if isinstance(cause, ConfigFieldMissingException):
            if any(name.endswith("api_token") for name in cause.fields):
                return NO_TOKEN, EXIT_USAGE
            return f"missing configuration: {', '.join(cause.fields)}", EXIT_USAGE
    for cause in chain:
        unwritable = _UNWRITABLE_FILE.search(str(cause))
        if unwritable or isinstance(cause, PermissionError):
            what = f"{unwritable.group(1)} ({unwritable.group(2)})" if unwritable else str(cause)
            return (
                f"cannot open the destination database {what}: run from a writable directory or "
                "set DESTINATION__DUCKDB__CREDENTIALS to a writable file path",
                EXIT_USAGE,
            )
    root = chain[-1]
    first_line = (str(root).strip().splitlines() or [""])[0][:300]
    return f"{type(root).__name__}: {first_line} (rerun with --verbose for details)", EXIT_FAILED
