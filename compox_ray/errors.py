"""The one error type of compox_ray; api/errors.py turns it into Compox's error body.

Services and storage raise it without importing the API layer. Codes follow Compox 3.2.0, which
clients branch on; ours (invalid_parameters, payload_too_large, ...) follow the same style.
"""


class CompoxError(Exception):
    # Positional-only, so a detail may be called "status" or "code" too.
    def __init__(self, status: int, code: str, detail: str, /, *, retryable: bool = False, **details):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.retryable = retryable
        self.details = details

    def __reduce__(self):
        # Crosses Ray actor boundaries intact (keyword-only arguments need help to pickle).
        return _rebuild, (self.status, self.code, self.detail, self.retryable, self.details)


def _rebuild(status, code, detail, retryable, details):
    return CompoxError(status, code, detail, retryable=retryable, **details)


def not_found(code: str, detail: str, /, **details) -> CompoxError:
    return CompoxError(404, code, detail, **details)
