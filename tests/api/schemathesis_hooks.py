"""Loaded by schemathesis (SCHEMATHESIS_HOOKS) in tests/api/test_schema_fuzzing.py: bodies for the
media type it cannot make itself, so the deploy route is fuzzed too (arbitrary bytes, and zips of
arbitrary members: names with "..", absolute paths, odd characters)."""

from __future__ import annotations

import io
import zipfile

import schemathesis
from hypothesis import strategies as st


@st.composite
def _zips(draw) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in draw(st.lists(st.text(min_size=1, max_size=40), max_size=4)):
            archive.writestr(name.replace("\0", "_") or "x", draw(st.binary(max_size=200)))
    return buffer.getvalue()


schemathesis.openapi.media_type("application/zip", st.binary(max_size=2000) | _zips())
