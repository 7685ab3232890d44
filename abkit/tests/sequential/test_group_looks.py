"""Group-sequential designs refuse more looks than the numerical recursion can compute."""

from __future__ import annotations

import numpy as np
import pytest

from abkit.sequential import peeking_type1_error


def test_more_looks_than_can_be_computed_are_refused() -> None:
    # peeking_type1_error(2**63) used to return 0.0 silently.
    for looks in (2**63, 10_001):
        with pytest.raises(ValueError, match=r"`information` must be at most 10000 looks; got "):
            peeking_type1_error(looks)
    with pytest.raises(ValueError, match=r"`information` must be at most 10000 looks; got 10001\."):
        peeking_type1_error(np.arange(1, 10_002) / 10_001)
