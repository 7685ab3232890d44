"""Feature flags: percentage rollouts, a kill switch, and targeting by attributes.

A :class:`FeatureFlag` is on for a unit when the unit passes the flag's targeting ``condition``
and its rollout position ``gb_hash(seed, unit_id, 2)`` is below ``rollout``: the flag is the
:class:`abkit.assignment.Split` with weights ``[rollout, 1 - rollout]`` and is on for variant 0,
the bottom of the hash range (canaries take the top; see :mod:`abkit.assignment`). The position
depends only on the unit and the flag's seed, so raising the rollout only ever adds units (a unit
in at 5% is in at 20%), lowering it only removes units, and ``rollout=0``
(:meth:`FeatureFlag.kill`) turns the flag off for everyone.

The condition language is GrowthBook's (:mod:`abkit.flags.conditions`); a flag checks its
condition strictly when it is built (:func:`~abkit.flags.conditions.check_condition`), so unknown
operators, malformed operands and conditions nested deeper than ``MAX_CONDITION_DEPTH`` raise then,
not per request.

Examples
--------
>>> flag = FeatureFlag("new-ranker", rollout=0.2, condition={"country": {"$in": ["NZ", "AU"]}})
>>> flag.is_on("user-2", {"country": "NZ"}), flag.is_on("user-2", {"country": "US"})
(True, False)
>>> flag.kill().is_on("user-2", {"country": "NZ"})
False
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from abkit._validation import check_id, check_share
from abkit.assignment import Split
from abkit.flags.conditions import check_condition, evaluate_condition

__all__ = ["FeatureFlag"]


@dataclasses.dataclass(frozen=True, slots=True)
class FeatureFlag:
    """A flag rolled out to a share of the units that pass its targeting condition.

    Parameters
    ----------
    key
        The flag's name; also its hash seed unless ``seed`` is given.
    rollout
        Share of targeted units for which the flag is on, in [0, 1].
    condition
        Targeting condition on the unit's attributes (:mod:`abkit.flags.conditions`), checked
        strictly when the flag is built; ``None`` targets all.
    seed
        Hash seed; keep it when renaming a flag so units keep their rollout position.

    Examples
    --------
    >>> flag = FeatureFlag("dark-mode", rollout=0.05)
    >>> ids = [f"u{i}" for i in range(10_000)]
    >>> at_5 = {u for u in ids if flag.is_on(u)}
    >>> at_20 = {u for u in ids if flag.with_rollout(0.2).is_on(u)}
    >>> at_5 <= at_20, len(at_5), len(at_20)
    (True, 491, 1955)
    """

    key: str
    rollout: float = 0.0
    condition: Mapping[str, Any] | None = None
    seed: str | None = None
    _split: Split = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_id("key", self.key)
        object.__setattr__(self, "rollout", check_share("rollout", self.rollout))
        if self.condition is not None:
            object.__setattr__(self, "condition", check_condition(self.condition))
        if self.seed is not None:
            check_id("seed", self.seed)
        # On = variant 0, the bottom [0, rollout) of the hash range (abkit.assignment's convention).
        split = Split(self.key, [self.rollout, 1.0 - self.rollout], seed=self.seed, hash_version=2)
        object.__setattr__(self, "_split", split)

    def position(self, unit_id: str) -> float:
        """The unit's rollout position in ``[0, 1)``: the flag is on when it is below ``rollout``."""
        return self._split.position(check_id("unit_id", unit_id))

    def is_on(self, unit_id: str, attributes: Mapping[str, Any] | None = None) -> bool:
        """Whether the flag is on for this unit (targeted, and inside the rollout: the bottom
        ``rollout`` share of the hash range)."""
        if self.condition is not None and not evaluate_condition(self.condition, attributes):
            return False
        return self._split.index(check_id("unit_id", unit_id)) == 0

    def with_rollout(self, rollout: float) -> FeatureFlag:
        """The same flag at another rollout share (units keep their positions)."""
        return dataclasses.replace(self, rollout=rollout)

    def kill(self) -> FeatureFlag:
        """The kill switch: the same flag at 0%, off for every unit."""
        return self.with_rollout(0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form; ``FeatureFlag(**d)`` restores it."""
        return {"key": self.key, "rollout": self.rollout,
                "condition": None if self.condition is None else dict(self.condition), "seed": self.seed}

