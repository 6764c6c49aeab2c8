"""Idempotency keys of submits: a client that retries POST /execute-algorithm or /train-algorithm
(after a 503 or a lost connection) sends the same ``Idempotency-Key`` header, and the run the key
created first answers instead of a second run.

The key is stored in the run's record with a fingerprint of the request, so the same key on a
different request is refused rather than answered with a run that is not what was asked for.
"""

from __future__ import annotations

import hashlib
import json
import re

from pydantic import BaseModel

from compox_ray.errors import CompoxError

# Printable ASCII without spaces: what a header value of a uuid, ulid or hash looks like.
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def idempotency_fields(key: str | None, request: BaseModel) -> dict:
    """The record fields for ``key`` (none without one); 422 for a key that is not 1-255 visible characters."""
    if key is None:
        return {}
    if not _KEY.match(key):
        raise CompoxError(422, "invalid_idempotency_key",
                          "The Idempotency-Key header must be 1 to 255 visible ASCII characters.")
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return {"idempotency_key": key, "request_fingerprint": hashlib.sha256(canonical.encode()).hexdigest()}
