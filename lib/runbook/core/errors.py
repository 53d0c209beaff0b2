"""The runbook's exception tree: one small family, each carrying the context a user needs.

Every error names where it happened (a file, a field, a step) and, where there is one, the fix.
Notebooks and the CLI catch ``RunbookError`` and print ``str(err)``, never a bare traceback.
"""

from __future__ import annotations


class RunbookError(Exception):
    """Base of every error the runbook raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None, **context: object) -> None:
        self.message = message
        self.hint = hint
        self.context = {k: v for k, v in context.items() if v is not None}
        super().__init__(message)

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text += f"\n  fix: {self.hint}"
        return text


class ParamsError(RunbookError):
    """A profile or parameter override is invalid (raised before any side effect)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        field: str | None = None,
        allowed: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.field = field
        self.allowed = allowed
        where = ": ".join(x for x in (file, field) if x)
        text = f"{where}: {message}" if where else message
        if allowed:
            text += f" (allowed: {allowed})"
        super().__init__(text, hint=hint, file=file, field=field)


class ResultParseError(RunbookError):
    """A bench_serving output (printed block or JSONL) could not be parsed."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None) -> None:
        self.source = source
        self.line = line
        where = source or "<text>"
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: {message}", source=source, line=line)


class EngineError(RunbookError):
    """Building, starting or stopping the serving engine (container or process) failed."""

    def __init__(self, message: str, *, log_tail: str | None = None, hint: str | None = None,
                 **context: object) -> None:
        self.log_tail = log_tail
        text = message
        if log_tail:
            text += "\n--- last log lines ---\n" + log_tail.rstrip()
        super().__init__(text, hint=hint, **context)


class ServerNotReady(EngineError):
    """The server exited or did not become ready within the readiness timeout."""


class CheckFailed(RunbookError):
    """An invocation or benchmark check failed (the step's verdict is FAIL)."""


class BenchError(RunbookError):
    """A benchmark tier could not be run or its result cannot be trusted."""
