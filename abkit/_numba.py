"""The one kernel decorator: every numba kernel in abkit is compiled through :data:`kernel`.

``kernel`` is ``numba.njit(cache=True, nogil=True)``: nopython mode, compiled on the first call
and cached on disk beside the module (later processes load the machine code instead of compiling
again), with the GIL released so that the threads of a service run kernels side by side. Kernels
live in the ``_kernels.py`` modules; nothing else imports numba.

Examples
--------
>>> from abkit._kernels import kth_pairwise_difference       # decorated with @kernel
>>> kth_pairwise_difference.targetoptions["nogil"], type(kth_pairwise_difference._cache).__name__
(True, 'FunctionCache')
"""

from __future__ import annotations

import numba

__all__ = ["kernel"]

kernel = numba.njit(cache=True, nogil=True)
