"""``$regex`` patterns that cannot hang a service.

With the optional ``google-re2`` package (``pip install abkit[re2]``) patterns run on RE2, whose
matching time is linear in the input: every pattern RE2 accepts is allowed. RE2 has no
backreferences or lookaround (JavaScript's regular expressions, which GrowthBook's SDKs use, do);
such patterns are refused.

Without it, patterns run on Python's backtracking ``re`` under a documented bound, so that no
match can take more than a few milliseconds:

- the pattern has at most ``MAX_FALLBACK_PATTERN`` (256) characters;
- no backreference, lookaround or conditional group;
- no quantifier on a group (``(a+)+``, ``(a|aa)*``): only single characters, classes and
  escapes repeat;
- at most ``MAX_FALLBACK_QUANTIFIERS`` (2) quantifiers in all;
- the text searched has at most ``MAX_FALLBACK_TEXT`` (256) characters; longer text does not
  match.

Backtracking costs at most about ``len(text) ** (quantifiers + 1)`` steps, 1.7e7 at these
limits. A refused pattern behaves as an invalid one: ``$regex`` does not match,
``$notRegex`` does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

try:  # the linear-time engine (optional extra "re2")
    import re2 as _re2
except ImportError:  # pragma: no cover - the suite installs it; the fallback is tested directly
    _re2 = None

__all__ = [
    "HAS_RE2",
    "MAX_FALLBACK_PATTERN",
    "MAX_FALLBACK_QUANTIFIERS",
    "MAX_FALLBACK_TEXT",
    "compile_pattern",
    "fallback_refusal",
]

HAS_RE2 = _re2 is not None
MAX_FALLBACK_PATTERN = 256
MAX_FALLBACK_QUANTIFIERS = 2
MAX_FALLBACK_TEXT = 256

Search = Callable[[str], bool]


def fallback_refusal(pattern: str) -> str | None:
    """Why Python's ``re`` may not run ``pattern`` under the bound, or ``None`` when it may.

    Examples
    --------
    >>> fallback_refusal(r"^\\d+@example\\.com$") is None
    True
    >>> fallback_refusal("(a+)+$")
    'a quantifier on a group'
    """
    if len(pattern) > MAX_FALLBACK_PATTERN:
        return f"longer than {MAX_FALLBACK_PATTERN} characters"
    quantifiers, i, previous = 0, 0, ""
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 < len(pattern) and pattern[i + 1].isdigit() and pattern[i + 1] != "0":
                return "a backreference"
            previous, i = "atom", i + 2
            continue
        if char == "[":  # a character class: skip to its closing bracket
            i += 2 if pattern[i + 1:i + 2] == "^" else 1
            i += 1 if pattern[i:i + 1] == "]" else 0
            while i < len(pattern) and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            previous, i = "atom", i + 1
            continue
        if char == "(":
            if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!", "(?P=", "(?("), i):
                return "lookaround, a backreference or a conditional group"
            previous = "open"
        elif char == ")":
            previous = "group"
        elif char in "*+?{":
            if char == "{" and re.match(r"\{\d*(,\d*)?\}", pattern[i:]) is None:
                previous, i = "atom", i + 1  # a literal brace
                continue
            if char == "?" and previous == "open":
                i += 1  # (?: (?i) (?P<name> ...: a group flag, not a quantifier
                continue
            if previous == "group":
                return "a quantifier on a group"
            if previous != "quantifier":  # a lazy or possessive suffix belongs to it
                quantifiers += 1
            if quantifiers > MAX_FALLBACK_QUANTIFIERS:
                return f"more than {MAX_FALLBACK_QUANTIFIERS} quantifiers"
            if char == "{":
                i = pattern.index("}", i)
            previous = "quantifier"
        else:
            previous = "atom"
        i += 1
    return None


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str, ignore_case: bool = False) -> Search | None:
    """A search function for ``pattern``, or ``None`` if it is invalid or refused (module docstring).

    Examples
    --------
    >>> search = compile_pattern("^a+$")
    >>> search("aaa"), search("ab")
    (True, False)
    >>> compile_pattern("(") is None
    True
    """
    if _re2 is not None:
        options = _re2.Options()
        options.log_errors = False
        options.never_capture = True
        options.case_sensitive = not ignore_case
        searcher: Any = _re2.Set.SearchSet(options)  # a one-pattern set: RE2 without match objects
        try:
            searcher.Add(pattern)
        except _re2.error:
            return None
        searcher.Compile()
        return lambda text: searcher.Match(text) is not None
    if fallback_refusal(pattern) is not None:
        return None
    try:
        compiled = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error:
        return None
    return lambda text: len(text) <= MAX_FALLBACK_TEXT and compiled.search(text) is not None
