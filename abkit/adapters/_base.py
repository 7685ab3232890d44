"""What every router adapter shares: :class:`Route`, the :class:`Router` protocol, JSON state.

:class:`_JsonStateRouter` gives an adapter its lock, JSON state (``to_json``/``from_json``),
atomic files (``save``/``load``) and ``merge``; an adapter supplies its configuration and its
state. A corrupt or mismatched state raises :class:`abkit.errors.StateError` and changes nothing.
"""

from __future__ import annotations

import abc
import dataclasses
import os
import threading
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from abkit._results import Result, object_html, object_repr
from abkit._state import (
    dump_state,
    envelope_from_document,
    parse_json,
    read_state_file,
    write_state_file,
)
from abkit._validation import check_id
from abkit.errors import StateError

__all__ = ["Route", "Router"]

RECORDS_GROUP = "\x00records"
"""The store group (field ``n``) counting the outcomes a canary or shadow router counted: their
other groups hold moments, which not every outcome adds to (no router's name has a NUL)."""

STATE_VERSION = 2
"""Version 2: the envelope of :mod:`abkit._state`. Version 1 (``{"kind", "format": 1, "config",
"state"}``, same ``config`` and ``state``) is still read."""

R = TypeVar("R", bound="_JsonStateRouter")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Route(Result):
    """The answer to ``route()``: who serves this unit.

    ``propensity`` is the probability that the assignment mechanism gives a unit this variant:
    the variant's design share for a hash split (fixed per unit, random across units), the
    policy's choice probability for a bandit. Off-policy estimators need it. ``shadows`` names models
    to call in shadow mode whose answers are logged but not served. ``in_experiment`` is False
    for a unit outside the experiment's coverage or namespace: it is served the first variant
    and its outcomes are not counted.
    """

    unit_id: str
    experiment: str
    variant: str
    variant_index: int
    propensity: float
    shadows: tuple[str, ...] = ()
    in_experiment: bool = True


@runtime_checkable
class Router(Protocol):
    """What a request router calls on every request."""

    def route(self, unit_id: str, context: dict[str, Any] | None = None) -> Route:
        """Assign ``unit_id`` (deterministically where the adapter allows) and return the route."""
        ...

    def record(self, unit_id: str, outcome: Any) -> None:
        """Record an outcome for a unit that was routed; atomic and thread-safe."""
        ...


def _check_names(name: str, values: Any, minimum: int) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"`{name}` must be a sequence of strings; got {values!r}.")
    names = tuple(check_id(name, v) for v in values)
    if len(names) < minimum:
        raise ValueError(f"`{name}` must have at least {minimum} entries; got {len(names)}.")
    if len(set(names)) != len(names):
        raise ValueError(f"`{name}` must be distinct; got {list(names)}.")
    return names


class _JsonStateRouter(abc.ABC):
    """JSON state, file persistence and merging shared by the adapters (under one lock)."""

    _kind: ClassVar[str]

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @abc.abstractmethod
    def _config(self) -> dict[str, Any]:
        """The constructor's keyword arguments, JSON-safe."""

    @abc.abstractmethod
    def _state(self) -> dict[str, Any]:
        """Everything recorded, JSON-safe (called under the lock)."""

    @abc.abstractmethod
    def _set_state(self, state: Any) -> None:
        """Replace what was recorded by ``state``, validated first (``StateError``, nothing changed)."""

    @abc.abstractmethod
    def _merge_states(self, mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
        """The state holding both ``mine`` and ``theirs``."""

    @classmethod
    def _from_config(cls: type[R], config: Any) -> R:
        """A router with nothing recorded, from :meth:`_config` output."""
        return cls(**config)

    def _repr_items(self) -> list[tuple[str, Any]]:
        """Configuration then a short state summary, for ``repr`` and the Jupyter table."""
        return list(self._config().items())

    def __repr__(self) -> str:
        return object_repr(type(self).__name__, self._repr_items())

    def _repr_html_(self) -> str:
        return object_html(type(self).__name__, self._repr_items())

    def _snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self._state()

    def to_json(self) -> str:
        """The configuration and everything recorded, as a state envelope (:mod:`abkit._state`)."""
        state = self._snapshot()
        return dump_state(self._kind, STATE_VERSION, self._config(), state)

    @classmethod
    def from_json(cls: type[R], text: str | bytes) -> R:
        """A router rebuilt from :meth:`to_json` (this or an older version); corrupt: ``StateError``."""
        document = parse_json(text)
        if isinstance(document, dict) and "format" in document and "version" not in document:
            if document.get("kind") != cls._kind or document.get("format") != 1:
                raise StateError(f"The state is not a {cls._kind} state: kind "
                                 f"{document.get('kind')!r} format {document.get('format')!r}.")
            document = {"kind": cls._kind, "version": 1, "config": document.get("config"),
                        "state": document.get("state")}
        envelope = envelope_from_document(document, cls._kind, versions=(1, STATE_VERSION))
        try:
            router = cls._from_config(envelope.config)
            router._set_state(envelope.state)
        except StateError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise StateError(f"Corrupt {cls._kind} state: {exc}.") from exc
        return router

    def load_json(self, text: str | bytes) -> None:
        """Replace what was recorded by a saved state of the same configuration (or change nothing)."""
        loaded = type(self).from_json(text)
        self._check_same_config(loaded, "state")
        state = loaded._snapshot()
        with self._lock:
            self._set_state(state)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to ``path`` atomically and durably (see ``abkit._state``)."""
        write_state_file(path, self.to_json())

    @classmethod
    def load(cls: type[R], path: str | os.PathLike[str]) -> R:
        """A router read from a file written by :meth:`save` (``StateError`` when corrupt)."""
        return cls.from_json(read_state_file(path))

    def _check_same_config(self, other: Any, what: str) -> None:
        if type(other) is not type(self):
            raise TypeError(f"`{what}` must be a {type(self).__name__}; got {type(other).__name__}.")
        if other._config() != self._config():
            raise StateError(f"`{what}` has another configuration: {other._config()} "
                             f"instead of {self._config()}.")

    def merge(self: R, other: R) -> R:
        """A new router holding what both recorded (same configuration required)."""
        self._check_same_config(other, "other")
        merged = type(self)._from_config(self._config())
        # One lock at a time: two routers merging each other concurrently cannot deadlock.
        merged._set_state(self._merge_states(self._snapshot(), other._snapshot()))
        return merged

