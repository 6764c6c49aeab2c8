"""Loaded by schemathesis (SCHEMATHESIS_HOOKS) in tests/api/test_schema_fuzzing.py.

- Bodies for the media type it cannot make itself, so the deploy route is fuzzed too: arbitrary
  bytes, and zips of arbitrary members (names with "..", absolute paths, odd characters).
- Records that exist (``COMPOX_RAY_FUZZ_SEEDS``: JSON, parameter name -> ids the test created), drawn
  beside the generated values, so the operations on a real file, execution, sample or algorithm are
  reached instead of answering 404 to every random id.
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import schemathesis
from hypothesis import strategies as st

SEEDS: dict[str, list[str]] = json.loads(os.environ.get("COMPOX_RAY_FUZZ_SEEDS", "{}"))


@st.composite
def _zips(draw) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in draw(st.lists(st.text(min_size=1, max_size=40), max_size=4)):
            archive.writestr(name.replace("\0", "_") or "x", draw(st.binary(max_size=200)))
    return buffer.getvalue()


schemathesis.openapi.media_type("application/zip", st.binary(max_size=2000) | _zips())


def _or_seeded(name: str, value):
    return st.sampled_from([value, *SEEDS.get(name, [])])


@schemathesis.hook
def flatmap_path_parameters(ctx, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)
    return st.fixed_dictionaries({name: _or_seeded(name, value) for name, value in path_parameters.items()})


@schemathesis.hook
def flatmap_body(ctx, body):
    if not isinstance(body, dict) or "algorithm_id" not in body or not SEEDS.get("algorithm_id"):
        return st.just(body)
    seeded = {"algorithm_id": SEEDS["algorithm_id"][0]}
    if "input_dataset_ids" in body:
        seeded["input_dataset_ids"] = SEEDS.get("file_id", [])[:1]
    if "training_data" in body:
        seeded["training_data"] = SEEDS.get("sample_id", [])[:1]
    return st.sampled_from([body, body | seeded])
