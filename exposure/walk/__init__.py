"""The walk: bounded BFS, value share and batch hops over the CSR graph (DESIGN.md section 6).

:mod:`exposure.walk.kernels` holds the Numba kernels (numpy and numba only), compiled just in
time and cached (:mod:`exposure.walk.cache`) or, for one screen's two kernels, ahead of time
(:mod:`exposure.walk.aot`);
:mod:`exposure.walk.drivers` the checked, typed entry points used by screening:

- :class:`Walker` — ``nearest(start, direction, max_hops, categories)`` -> :class:`Walk`,
  ``shares(start, direction, max_hops, tol)`` -> :class:`Shares`;
- :func:`batch_hops` — hops from every node to every category, uint8[N, n_cats] (255 = none);
- :func:`build_csr` — CSR by counting sort.
"""

from exposure.walk.drivers import (
    DEFAULT_MAX_HOPS,
    DEFAULT_TOL,
    Nearest,
    Shares,
    Walk,
    Walker,
    batch_hops,
    build_csr,
    check_graph,
)
from exposure.walk.layout import NO_HOPS

__all__ = [
    "DEFAULT_MAX_HOPS",
    "DEFAULT_TOL",
    "NO_HOPS",
    "Nearest",
    "Shares",
    "Walk",
    "Walker",
    "batch_hops",
    "build_csr",
    "check_graph",
]
