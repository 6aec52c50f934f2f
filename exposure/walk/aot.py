"""The single-screen kernels compiled ahead of time, so that a screen process never loads numba.

A fresh process that calls a cached numba kernel pays about 0.7 s before the first call
returns (importing numba, initialising its CPU target and LLVM, loading the cache), ten times
what the walk itself costs. The two kernels of one screen, :func:`~exposure.walk.kernels.
bfs_nearest` and :func:`~exposure.walk.kernels.value_share`, are therefore also compiled by
numba's ahead-of-time compiler (``numba.pycc``) into a C extension module that imports in about
a millisecond and needs only numpy at run time. It is the same Python source compiled by the
same numba, so it computes exactly what the JIT kernels compute (a test checks it on random
graphs); the JIT kernels stay the fallback wherever the module is missing.

- built by ``./scripts/setup`` (:func:`main`) or :func:`build`, into the
  kernels' cache folder (:func:`exposure.walk.cache.kernel_cache_dir`), under the same compile
  lock, written to a temporary folder and renamed into place (a process that loads it meanwhile
  sees the old file or the new one, never half of one);
- named after a digest of the kernels' source, this module, numba's, numpy's and Python's
  versions: a changed kernel never runs from an old build (it falls back to the JIT kernels
  until the next build); older builds are deleted by the next one;
- exports ``bfs_nearest_e32/_e64`` and ``value_share_e32/_e64``, one per edge-id dtype, with
  the argument types the drivers pass (read-only inputs, see :func:`~exposure.walk.layout.
  kernel_input`; writable scratch).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import sysconfig
import tempfile
from importlib import metadata
from pathlib import Path
from types import ModuleType

from exposure.walk.cache import COMPILE_LOCK_NAME, file_lock, kernel_cache_dir

_HERE = Path(__file__).resolve().parent
#: What the build depends on besides the library versions.
_SOURCES = ("kernels.py", "layout.py", "aot.py")
_PREFIX = "walk_aot_"
#: Edge-id dtypes: int32 below 2**31 edges, int64 above.
EDGE_DTYPES = ("int32", "int64")

_loaded: dict[str, ModuleType | None] = {}


def module_name() -> str:
    """The extension module's name for the current sources and library versions."""
    h = hashlib.sha256()
    for name in _SOURCES:
        h.update((_HERE / name).read_bytes())
    for dist in ("numba", "numpy"):
        try:
            h.update(metadata.version(dist).encode())
        except metadata.PackageNotFoundError:
            h.update(b"-")
    h.update(sys.version.encode())
    return _PREFIX + h.hexdigest()[:16]


def module_path(folder: str | os.PathLike | None = None) -> Path | None:
    """Where the current build is (or would be) kept; None without a cache folder."""
    folder = folder or kernel_cache_dir()
    if not folder:
        return None
    return Path(folder) / (module_name() + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))


def load(folder: str | os.PathLike | None = None) -> ModuleType | None:
    """The compiled module of the current sources, or None if it was not built (or does not
    load: the caller falls back to the JIT kernels)."""
    path = module_path(folder)
    if path is None:
        return None
    key = str(path)
    if key not in _loaded:
        module = None
        if path.is_file():
            try:
                spec = importlib.util.spec_from_file_location(module_name(), path)
                if spec is not None and spec.loader is not None:
                    module = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(module)
            except (ImportError, OSError):
                module = None
        _loaded[key] = module
    return _loaded[key]


def _signatures() -> dict[str, object]:
    from numba import types

    def ro(dtype):
        return types.Array(dtype, 1, "C", readonly=True)

    def rw(dtype):
        return types.Array(dtype, 1, "C")

    i8, i4, u8, f8 = types.int64, types.int32, types.uint64, types.float64
    sigs = {}
    for name in EDGE_DTYPES:
        edge = getattr(types, name)
        suffix = "e64" if name == "int64" else "e32"
        sigs[f"bfs_nearest_{suffix}"] = types.Tuple(
            (rw(types.int16), rw(i4), rw(i4), i8, i8))(
            ro(i8), ro(i4), ro(edge), ro(u8), ro(types.uint8), i8, i8, u8,
            rw(i4), rw(i4), rw(edge), rw(i4), i8, i8)
        sigs[f"value_share_{suffix}"] = types.Tuple((rw(f8), f8, f8, f8, f8, i8))(
            ro(i8), ro(i4), ro(edge), ro(f8), ro(u8), ro(types.uint8), i8, i8, f8, i8,
            rw(i4), rw(f8), i8)
    return sigs


def build(folder: str | os.PathLike | None = None) -> Path:
    """Compile the module into ``folder`` (default: the kernels' cache folder) unless the
    current build is there; returns its path. Raises RuntimeError if it cannot be built (no
    cache folder, no C compiler)."""
    where = folder or kernel_cache_dir()
    if not where:
        raise RuntimeError("no writable cache folder for the compiled kernels")
    folder = Path(where)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RuntimeError(f"cannot create {folder} for the compiled kernels: {exc}") from None
    path = module_path(folder)
    assert path is not None
    with file_lock(str(folder / COMPILE_LOCK_NAME)):
        if path.is_file():
            return path
        from numba.pycc import CC

        from exposure.walk import kernels

        functions = {"bfs_nearest": kernels.bfs_nearest.py_func,
                     "value_share": kernels.value_share.py_func}
        tmp = Path(tempfile.mkdtemp(prefix=".aot-", dir=folder))
        try:
            cc = CC(module_name())
            cc.output_dir = str(tmp)
            cc.verbose = False
            for export, sig in _signatures().items():
                cc.export(export, sig)(functions[export.rsplit("_", 1)[0]])
            try:
                cc.compile()
            except Exception as exc:  # pycc raises distutils/setuptools errors of many kinds
                raise RuntimeError(f"could not compile the walk kernels ahead of time: {exc}"
                                   ) from exc
            built = [p for p in tmp.iterdir() if p.name.startswith(module_name())
                     and p.suffix in (".so", ".pyd")]
            if len(built) != 1:
                raise RuntimeError(f"the ahead-of-time build wrote {built}, not one module")
            os.replace(built[0], path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for old in folder.glob(_PREFIX + "*"):
            if old != path:
                old.unlink(missing_ok=True)
    _loaded.pop(str(path), None)
    return path


def main() -> int:
    """Build the module (what ``./scripts/setup`` runs); one line on stderr if it fails."""
    try:
        build()
    except RuntimeError as exc:
        print(f"exposure: {exc}; screens use the JIT kernels (about 0.7 s more per process)",
              file=sys.stderr)
        return 1
    return 0

