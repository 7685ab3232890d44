"""The one JSON state envelope (abkit/_state.py): strict JSON, safe parsing, atomic files."""

from __future__ import annotations

import json
import os
import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from abkit._state import (
    MAX_DEPTH,
    dump_state,
    load_state,
    parse_json,
    read_state_file,
    write_state_file,
)
from abkit.errors import StateError

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(config=st.dictionaries(st.text(), JSON_VALUES, max_size=4),
       state=st.dictionaries(st.text(), JSON_VALUES, max_size=4),
       version=st.integers(1, 10))
def test_round_trip(config, state, version):
    envelope = load_state(dump_state("Thing", version, config, state), "Thing", versions=range(1, 11))
    assert (envelope.kind, envelope.version, envelope.config, envelope.state) == ("Thing", version, config, state)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_are_never_written(value):
    with pytest.raises(StateError, match="NaN or infinity"):
        dump_state("Thing", 1, {}, {"x": [1.0, value]})


@pytest.mark.parametrize("text, message", [
    ("{", "not valid JSON"),
    ('{"x": Infinity}', "holds Infinity"),
    ('{"x": NaN}', "holds NaN"),
    ("[" * 100_000 + "]" * 100_000, "nested deeper than 64"),
    ('{"a": "' + "[" * 1000 + '"}', "keys"),  # brackets inside a string do not count as nesting
    (b"\xff\xfe", "not UTF-8"),
    (42, "must be JSON text"),
])
def test_bad_text_raises_state_error(text, message):
    with pytest.raises(StateError, match=message):
        load_state(text, "Thing", versions=(1,))


def test_nesting_at_the_limit_parses():
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert isinstance(parse_json(text), list)


@pytest.mark.parametrize("document, message", [
    ([1], "must be an object"),
    ({"kind": "Thing", "version": 1, "config": {}}, "must be an object"),
    ({"kind": "Thing", "version": 1, "config": {}, "state": {}, "extra": 1}, "must be an object"),
    ({"kind": "Other", "version": 1, "config": {}, "state": {}}, "'Other' state, not a 'Thing' state"),
    ({"kind": "Thing", "version": 3, "config": {}, "state": {}}, r"version 3 is not one this abkit reads \(\[1, 2\]\)"),
    ({"kind": "Thing", "version": "1", "config": {}, "state": {}}, "version '1'"),
    ({"kind": "Thing", "version": True, "config": {}, "state": {}}, "version True"),
    ({"kind": "Thing", "version": 1, "config": [], "state": {}}, "must be JSON objects"),
])
def test_wrong_shape_kind_or_version(document, message):
    with pytest.raises(StateError, match=message):
        load_state(json.dumps(document), "Thing", versions=(1, 2))


def test_files_are_written_atomically_with_the_umask_mode(tmp_path):
    target = tmp_path / "state.json"
    old = os.umask(0o022)
    try:
        write_state_file(target, "first")
        write_state_file(target, "second")
    finally:
        os.umask(old)
    assert read_state_file(target) == "second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    write_state_file(target, "old")

    def broken_replace(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_state_file(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_reading_bad_bytes_and_missing_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff")
    with pytest.raises(StateError, match="not UTF-8"):
        read_state_file(bad)
    with pytest.raises(FileNotFoundError):
        read_state_file(tmp_path / "missing.json")
