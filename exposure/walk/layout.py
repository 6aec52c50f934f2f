"""The array layout the walk kernels read, in numpy only (importable without numba).

Shared by :mod:`exposure.walk.kernels` (JIT), :mod:`exposure.walk.aot` (the same kernels
compiled ahead of time) and their drivers.
"""

from __future__ import annotations

import numpy as np

#: ``multi_source_hops`` value for "no labelled node of this category within max_hops".
NO_HOPS = 255
#: Capacity of the per-category outputs of ``bfs_nearest`` (one slot per bit of ``node_cats``).
MAX_CATS = 64


def kernel_input(arr, dtype):
    """``arr`` as a C-contiguous, read-only array of ``dtype``, the one layout kernels read.

    No copy when ``arr`` already has that dtype and layout: a writable array gets a read-only
    view (the caller's array stays writable). Any other array is converted (a copy).
    """
    arr = np.require(arr, dtype=dtype, requirements="C")
    if arr.flags.writeable:
        arr = arr.view()
        arr.flags.writeable = False
    return arr
