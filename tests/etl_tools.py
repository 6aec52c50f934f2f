"""The field's extractors (bitcoin-etl, ethereum-etl, ...) in their own venvs, made on first use.

They pin old dependencies that cannot share the project's venv, so each gets a venv under the
repository's ``.cache/tools/`` (gitignored), keyed by its name, Python version and requirements:
changing a pin makes a new venv, and a finished venv is reused by every later run. The interpreter
is the running one when the version matches, else ``pythonX.Y`` on PATH, else pyenv's
``versions/X.Y.*``. Without it the test is skipped with the reason, except in CI (env ``CI`` set),
where a missing interpreter or a failed install is a failure.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / ".cache" / "tools"
_READY = ".exposure-ready"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def find_python(version: str) -> Path | None:
    """An interpreter of ``version`` ("3.10"): the running one, ``pythonX.Y`` on PATH, or pyenv's."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        return Path(getattr(sys, "_base_executable", sys.executable))
    on_path = shutil.which(f"python{version}")
    # pyenv's shim is on PATH even when that version is not selected: try it before trusting it
    if on_path and subprocess.run(
        [on_path, "-c", "pass"], capture_output=True, check=False
    ).returncode == 0:
        return Path(on_path)
    roots = [Path(os.environ["PYENV_ROOT"])] if os.environ.get("PYENV_ROOT") else []
    pyenv = shutil.which("pyenv")
    if pyenv:
        answer = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        if answer.returncode == 0 and answer.stdout.strip():
            roots.append(Path(answer.stdout.strip()))
    roots.append(Path.home() / ".pyenv")
    for root in roots:
        found = sorted(
            (root / "versions").glob(f"{version}.*/bin/python"),
            key=lambda p: [int(x) for x in p.parent.parent.name.split(".") if x.isdigit()],
        )
        if found:
            return found[-1]
    return None


def tool_venv(name: str, python_version: str, requirements: Sequence[str]) -> Path:
    """The ``bin`` folder of a venv of ``python_version`` holding ``requirements``.

    Created on first use under ``.cache/tools/<name>-py<version>-<hash of requirements>/`` (pip
    from the package registry), then reused. Skips the calling test when the interpreter is
    missing or the install fails, and fails it instead in CI.
    """
    key = hashlib.sha256("\n".join([python_version, *requirements]).encode()).hexdigest()[:10]
    home = TOOLS / f"{name}-py{python_version}-{key}"
    if (home / _READY).exists():
        return home / "bin"
    python = find_python(python_version)
    if python is None:
        _unavailable(f"{name} needs Python {python_version}: none found (PATH, pyenv)")
    assert python is not None
    TOOLS.mkdir(parents=True, exist_ok=True)
    # One creator at a time (other checkouts' test runs share the folder); venvs cannot be moved,
    # so it is built in place and marked ready last: a half-made venv is rebuilt.
    with open(TOOLS / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (home / _READY).exists():
            return home / "bin"
        shutil.rmtree(home, ignore_errors=True)
        steps = [
            [str(python), "-m", "venv", str(home)],
            [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", *requirements],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                _unavailable(f"creating the {name} venv failed ({' '.join(step[1:4])} ...): "
                             f"{(done.stderr or done.stdout).strip()[-1500:]}")
        (home / _READY).write_text("\n".join(requirements) + "\n")
    return home / "bin"
