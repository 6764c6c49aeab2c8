"""What a JSON request body may hold: values that can be stored and answered again.

Python's JSON parser accepts more than JSON, and more than SQLite or a UTF-8 response can hold: a
lone UTF-16 surrogate (``"\\ud800"``) is not text (SQLite cannot encode it), NaN and Infinity are
not JSON numbers (the response encoder refuses them), and nesting hundreds of levels deep breaks
recursive encoders. Such bodies are refused with 422 before anything is written. A package's
``[tool.compox]`` is judged the same way: it is parsed from TOML, whose dates are no JSON values.
"""

from __future__ import annotations

import math

MAX_DEPTH = 64


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # only surrogates fail: the parser joins valid pairs
        return False
    return True


def storable_json_problem(value, numbers: bool = True) -> str | None:
    """Why ``value`` (parsed JSON) cannot be stored, or None; ``numbers=False`` leaves NaN and
    Infinity to another judge. Iterative: any depth is judged."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"the value is nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, str):
            if not _is_text(item):
                return "a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text"
        elif isinstance(item, float):
            if numbers and not math.isfinite(item):
                return "NaN and Infinity are not JSON numbers"
        elif isinstance(item, dict):
            for key, member in item.items():
                stack.append((key, depth))
                stack.append((member, depth + 1))
        elif isinstance(item, (list, tuple)):
            stack.extend((member, depth + 1) for member in item)
        elif not isinstance(item, (int, type(None))):  # bool is an int
            return f"a {type(item).__name__} is not a JSON value"
    return None
