"""Where the compiled walk kernels live, and how concurrent first compiles are serialised.

Numba issues #10128 and #8578 are why this exists:

- where: ``$NUMBA_CACHE_DIR`` if the user set it; otherwise a folder per numba, exposure and
  Python version, ``$XDG_CACHE_HOME/exposure/numba-<numba>-exposure-<version>-py<XY>``
  (``~/.cache`` without ``XDG_CACHE_HOME``), outside the source tree, so an upgrade of either
  never meets an old cache; if that folder cannot be created, numba's own default
  (``exposure/walk/__pycache__`` next to the sources). Only the kernels of
  :mod:`exposure.walk.kernels` are pointed there (``numba.config.CACHE_DIR`` is set while their
  caches are opened, then restored): other numba code in the process keeps its own settings.
  The ahead-of-time build of the single-source kernels (:mod:`exposure.walk.aot`) is kept in
  the same folder;
- concurrency: every compile of a walk kernel, which is where numba reads its cache index and
  writes index and code, holds an exclusive ``fcntl.flock`` on ``exposure-compile.lock`` in the
  cache folder. Several processes starting on a cold cache thus compile one at a time: the first
  compiles and writes, the others wait, then load what it wrote. Numba's index is a
  read-modify-write of one file per function, so unserialised writers can lose entries or pair
  an entry with another signature's code (#10128). Calls of an already compiled kernel never
  touch the lock.

This module imports numba only inside :func:`set_up_kernel_cache` (which the kernels module
calls once it is loaded): a screen that runs the ahead-of-time kernels never loads numba.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from importlib import metadata
from types import ModuleType

try:
    import fcntl
except ImportError:  # not POSIX: no inter-process lock, numba's own behaviour
    fcntl = None

#: File (in the kernels' cache folder) whose ``flock`` serialises compiles across processes.
COMPILE_LOCK_NAME = "exposure-compile.lock"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def default_kernel_cache_dir() -> str | None:
    """The versioned cache folder used when ``NUMBA_CACHE_DIR`` is not set (created here).

    ``$XDG_CACHE_HOME/exposure/numba-<numba>-exposure-<version>-py<XY>``, ``~/.cache`` for an
    unset or relative ``XDG_CACHE_HOME``. None if it cannot be created or written.
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    py = f"{sys.version_info[0]}{sys.version_info[1]}"
    name = f"numba-{_version('numba')}-exposure-{_version('exposure')}-py{py}"
    path = os.path.join(base, "exposure", name)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK | os.X_OK) else None


def kernel_cache_dir() -> str | None:
    """The folder the walk kernels are cached in: ``$NUMBA_CACHE_DIR`` or the default one."""
    return os.environ.get("NUMBA_CACHE_DIR") or default_kernel_cache_dir()


@contextlib.contextmanager
def file_lock(path: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing); a no-op where there is
    no flock or the file cannot be opened."""
    fd = -1
    if fcntl is not None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            fd = -1
    try:
        if fd >= 0:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        if fd >= 0:
            os.close(fd)  # releases the flock


_compile_depth = 0  # > 0 while this process holds the compile lock (guarded by numba's lock)


def _compile_under_lock(compile_: Callable, lock_path: str) -> Callable:
    """``Dispatcher.compile`` that holds an exclusive flock on ``lock_path`` while it runs.

    Numba's global compiler lock is taken first (the order numba itself nests them in), so a
    kernel compiled while another one is typed (nested compiles) does not lock twice.
    """
    from numba.core.compiler_lock import global_compiler_lock

    def compile(sig):
        global _compile_depth
        with global_compiler_lock:
            if _compile_depth or fcntl is None:
                return compile_(sig)
            with file_lock(lock_path):
                _compile_depth += 1
                try:
                    return compile_(sig)
                finally:
                    _compile_depth -= 1

    return compile


def set_up_kernel_cache(module: ModuleType) -> None:
    """Point the cached kernels of ``module`` at the kernel cache folder; lock their compiles."""
    import numba
    from numba.core.dispatcher import Dispatcher

    dispatchers = [obj for obj in vars(module).values() if isinstance(obj, Dispatcher)]
    user_dir = numba.config.CACHE_DIR
    target = None if user_dir else default_kernel_cache_dir()
    if target:
        try:
            numba.config.CACHE_DIR = target
            for disp in dispatchers:
                if disp._cache.cache_path is not None:  # cache=True (NullCache has no path)
                    disp.enable_caching()
        finally:
            numba.config.CACHE_DIR = user_dir
    for disp in dispatchers:
        cache_path = disp._cache.cache_path
        if cache_path is not None:
            disp.compile = _compile_under_lock(disp.compile,
                                               os.path.join(cache_path, COMPILE_LOCK_NAME))
