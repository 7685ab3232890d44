"""Every Python snippet of README.md runs as written and prints what the README shows.

The ```python blocks run in order, in one namespace, in a temporary working directory (a
snippet may write a file that a later one reads). When a ```text block follows a python block
directly, it is that block's standard output, compared as a doctest would (``...`` matches
anything, runs of whitespace are equal).
"""

from __future__ import annotations

import contextlib
import doctest
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)


def snippets() -> list[tuple[str, str | None]]:
    """``(code, expected_output_or_None)`` for each python block, in order."""
    text = README.read_text()
    blocks = [(m.group(1), m.group(2), m.start(), m.end()) for m in FENCE.finditer(text)]
    found = []
    for i, (language, body, _, end) in enumerate(blocks):
        if language != "python":
            continue
        following = blocks[i + 1] if i + 1 < len(blocks) else None
        expected = None
        if following and following[0] == "text" and not text[end:following[2]].strip():
            expected = following[1]
        found.append((body, expected))
    return found


def test_readme_has_snippets_with_outputs() -> None:
    found = snippets()
    assert len(found) >= 10
    assert sum(expected is not None for _, expected in found) >= 6


def test_readme_snippets_run_and_print_what_they_claim(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    namespace: dict[str, object] = {"__name__": "__readme__"}
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    for number, (code, expected) in enumerate(snippets(), start=1):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"README.md python block {number}", "exec"), namespace)
        if expected is not None:
            assert checker.check_output(expected, out.getvalue(), flags), (
                f"README.md python block {number} printed:\n{out.getvalue()}\nbut the README shows:\n{expected}")


def test_readme_commands_match_ci() -> None:
    text = README.read_text()
    assert 'pip install -e . && abkit demo' in text
    assert 'pip install -e ".[dev]" && pytest' in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert ci.rstrip().splitlines()[-1] == 'pip install -e ".[dev]" && pytest'
