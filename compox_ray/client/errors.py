"""The client's one error type: an error answer of the server, a server that cannot be reached, or a
run that ended FAILED or STOPPED. Named apart from the server's own ``compox_ray.errors.CompoxError``.

Branch on ``code`` (the server's, e.g. ``algorithm_not_found``; ``connection_failed`` when no
answer came; ``execution_failed`` / ``training_stopped`` ... for runs); ``detail`` says what went
wrong in words; a run's error carries its ``record`` and ``log``.
"""

from __future__ import annotations

import re

import httpx


class CompoxRayError(Exception):
    def __init__(self, detail: str, *, code: str = "", status: int | None = None, details: dict | None = None,
                 retryable: bool = False, record: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.status = status  # the HTTP status; None when no answer came or for a run's outcome
        self.details = details or {}
        self.retryable = retryable
        self.record = record  # the run's record, for RunFailed and RunStopped

    @property
    def log(self) -> str:
        return (self.record or {}).get("log") or ""

    def __str__(self) -> str:
        prefix = " ".join(str(part) for part in (self.status, self.code) if part)
        return f"{prefix}: {self.detail}" if prefix else self.detail

    @classmethod
    def from_response(cls, response: httpx.Response) -> CompoxRayError:
        """The server's error body ``{"detail", "code", "retryable", "details"?}``, or what there is."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {"detail": response.text[:500] or response.reason_phrase}
        detail = body.get("detail", "")
        if isinstance(detail, list):  # request validation: pydantic's list of errors
            detail = "; ".join(_validation_message(item) for item in detail)
        elif not isinstance(detail, str):
            detail = str(detail)
        return cls(detail, code=str(body.get("code") or f"http_{response.status_code}"), status=response.status_code,
                   details=body.get("details") or {}, retryable=bool(body.get("retryable", False)))


class RunFailed(CompoxRayError):
    """A run that ended FAILED: ``detail`` is the reason (the log's last error line), ``log`` all of it."""


class RunStopped(CompoxRayError):
    """A run that ended STOPPED (a stop request, from this client's Ctrl-C or from anyone else)."""


def _validation_message(item) -> str:
    if isinstance(item, dict):
        where = ".".join(str(part) for part in item.get("loc", ()))
        return f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", item))
    return str(item)


def run_outcome_error(kind: str, record: dict) -> CompoxRayError | None:
    """None for a COMPLETED run; RunFailed or RunStopped (code ``{kind}_failed`` / ``{kind}_stopped``)
    whose detail is the reason: the last line of the log's last ERROR entry (a traceback's exception)."""
    status = record.get("status")
    if status == "COMPLETED":
        return None
    entries = _log_entries(record.get("log") or "")
    errors = [message for level, message in entries if level == "ERROR"]
    last = (errors or [message for _, message in entries] or [f"{kind} ended {status}"])[-1]
    reason = ([line.strip() for line in last.splitlines() if line.strip()] or [f"{kind} ended {status}"])[-1]
    error_class = RunStopped if status == "STOPPED" else RunFailed
    return error_class(f"{kind} {record.get(f'{kind}_id', '')} ended {status}: {reason}",
                       code=f"{kind}_{str(status).lower()}", record=record)


_ENTRY = re.compile(r"^\d{4}-\d\d-\d\dT\S+ \[([A-Z]+)\] ", re.MULTILINE)


def _log_entries(log: str) -> list[tuple[str, str]]:
    """(level, message) of each entry of a run's log; a message may span lines (a traceback)."""
    starts = list(_ENTRY.finditer(log))
    return [(match.group(1), log[match.end(): starts[i + 1].start() if i + 1 < len(starts) else len(log)])
            for i, match in enumerate(starts)]
