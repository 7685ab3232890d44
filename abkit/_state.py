"""The one JSON state envelope, and safe reading and writing of state text and files.

Everything in abkit that persists state (routers, bandit policies, rollout controllers,
``ShadowMonitor``, ``MSPRT``) writes one document shape::

    {"kind": "FixedSplitRouter", "version": 2, "config": {...}, "state": {...}}

``kind`` names the class, ``version`` (an integer) the layout of ``config`` and ``state``;
versions only go up, and a class keeps a reader for each older layout it ever wrote (states are
persisted). Documents are strict JSON: no ``NaN`` or ``Infinity`` is written or accepted.

Reading never trusts its input: malformed or too deeply nested text, a wrong shape, kind or
version all raise :class:`abkit.errors.StateError`. Files are written atomically (a temporary
file in the same folder, flushed and fsync'd, renamed over the target, then the folder fsync'd),
with the mode the process umask gives a new file.

Examples
--------
>>> text = dump_state("Example", 1, {"arms": 2}, {"counts": [3, 4]})
>>> text
'{"kind": "Example", "version": 1, "config": {"arms": 2}, "state": {"counts": [3, 4]}}'
>>> envelope = load_state(text, "Example", versions=(1,))
>>> envelope.version, envelope.state["counts"]
(1, [3, 4])
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from abkit._validation import check_path
from abkit.errors import StateError

__all__ = [
    "Envelope",
    "dump_state",
    "envelope_from_document",
    "load_state",
    "parse_json",
    "read_state_file",
    "write_state_file",
]

MAX_DEPTH = 64
"""Deepest nesting of lists and objects a state document may have."""

ENVELOPE_KEYS = frozenset({"kind", "version", "config", "state"})


@dataclasses.dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed state document: ``kind``, ``version``, ``config`` and ``state``."""

    kind: str
    version: int
    config: dict[str, Any]
    state: dict[str, Any]


def _refuse_constant(name: str) -> Any:
    raise StateError(f"The state holds {name}, which is not valid JSON; states are strict JSON.")


def _depth(text: str) -> int:
    """The deepest bracket nesting in ``text``, ignoring brackets inside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_json(text: Any) -> Any:
    """Parse strict JSON state text, raising :class:`StateError` on anything else.

    Refuses non-text input, malformed JSON, ``NaN``/``Infinity`` and nesting deeper than
    :data:`MAX_DEPTH` (checked before parsing, so no input can exhaust the stack).

    Examples
    --------
    >>> parse_json('{"a": [1, 2]}')
    {'a': [1, 2]}
    >>> parse_json('{"a": NaN}')
    Traceback (most recent call last):
    ...
    abkit.errors.StateError: The state holds NaN, which is not valid JSON; states are strict JSON.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StateError(f"The state is not UTF-8 text: {exc}.") from None
    if not isinstance(text, str):
        raise StateError(f"A state must be JSON text; got {type(text).__name__}.")
    if _depth(text) > MAX_DEPTH:
        raise StateError(f"The state is nested deeper than {MAX_DEPTH} levels; it is not an abkit state.")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise StateError(f"The state is not valid JSON: {exc}.") from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise StateError("The state is nested too deeply to be an abkit state.") from None


def dump_state(kind: str, version: int, config: Mapping[str, Any], state: Mapping[str, Any]) -> str:
    """Write the envelope as strict JSON text.

    Raises :class:`StateError` if a value is not finite (a state that could not be read back is
    never written).

    Examples
    --------
    >>> dump_state("Example", 1, {}, {"mean": float("inf")})
    Traceback (most recent call last):
    ...
    abkit.errors.StateError: Example state holds a value JSON cannot carry (NaN or infinity); not written.
    """
    document = {"kind": kind, "version": version, "config": dict(config), "state": dict(state)}
    try:
        return json.dumps(document, allow_nan=False)
    except ValueError:
        raise StateError(
            f"{kind} state holds a value JSON cannot carry (NaN or infinity); not written."
        ) from None


def load_state(text: Any, kind: str, *, versions: Collection[int]) -> Envelope:
    """Parse an envelope of ``kind`` whose version is one of ``versions``.

    Examples
    --------
    >>> load_state('{"kind": "Other", "version": 1, "config": {}, "state": {}}', "Example", versions=(1,))
    Traceback (most recent call last):
    ...
    abkit.errors.StateError: The state is a 'Other' state, not a 'Example' state.
    """
    return envelope_from_document(parse_json(text), kind, versions=versions)


def envelope_from_document(document: Any, kind: str, *, versions: Collection[int]) -> Envelope:
    """Check a parsed document's envelope shape, kind and version (see :func:`load_state`)."""
    if not isinstance(document, dict) or set(document) != ENVELOPE_KEYS:
        keys = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise StateError(
            f'A state must be an object with keys "config", "kind", "state", "version"; got {keys}.'
        )
    if document["kind"] != kind:
        raise StateError(f"The state is a {document['kind']!r} state, not a {kind!r} state.")
    version = document["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version not in versions:
        raise StateError(
            f"{kind} state version {version!r} is not one this abkit reads ({sorted(versions)})."
        )
    if not isinstance(document["config"], dict) or not isinstance(document["state"], dict):
        raise StateError(f'{kind} state: "config" and "state" must be JSON objects.')
    return Envelope(kind=kind, version=version, config=document["config"], state=document["state"])


def write_state_file(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` atomically and durably.

    A reader sees the old file or the new one, never a mix; after return the new content
    survives a crash. The file gets the mode the umask gives a new file (not 0600).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "state.json"
    >>> write_state_file(target, '{"a": 1}')
    >>> target.read_text()
    '{"a": 1}'
    """
    target = check_path("path", path)
    folder = target.parent if str(target.parent) else Path(".")
    umask = os.umask(0)
    os.umask(umask)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(descriptor)
    except OSError:  # pragma: no cover - file systems that refuse directory fsync
        pass
    finally:
        os.close(descriptor)


def read_state_file(path: str | os.PathLike[str]) -> str:
    """The text of a state file; a missing file raises ``FileNotFoundError``, bad bytes ``StateError``."""
    data = check_path("path", path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StateError(f"State file {os.fspath(path)!r} is not UTF-8 text: {exc}.") from None
