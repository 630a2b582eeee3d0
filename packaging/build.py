"""`make dist`: build dist/rewards, the one-file executable, or reuse a cached build of the same inputs.

Owns the build and its cache. The cache key is a SHA-256 over every input of the bundle: each
file under app/, migrations/, templates/ and packaging/ (path and content), requirements.txt
and requirements-dev.txt (which pin PyInstaller and every bundled package), the Python version
and the platform. A build is kept at $REWARDS_DIST_CACHE (default ~/.cache/rewards-dist)
/<key>/rewards, outside the repository, so a fresh clone on the same machine (CI) reuses it;
the KEEP_BUILDS most recently used builds are kept. dist/rewards is a copy of the build, and
dist/rewards.key names the key it was built from.

Run with the project's virtualenv (`make dist` does): PyInstaller comes from
requirements-dev.txt, and the bundled packages are the ones installed there.
Prints the absolute path of dist/rewards on its last line.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join(ROOT, "packaging", "rewards.spec")
NAME = "rewards"
INPUT_DIRS = ("app", "migrations", "templates", "static", "packaging")
INPUT_FILES = ("requirements.txt", "requirements-dev.txt")
KEEP_BUILDS = 3
BUILD_TIMEOUT_S = 900


def cache_dir() -> str:
    default = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "rewards-dist")
    return os.environ.get("REWARDS_DIST_CACHE") or default


def _input_files() -> list[str]:
    found = [name for name in INPUT_FILES if os.path.isfile(os.path.join(ROOT, name))]
    for top in INPUT_DIRS:
        for folder, subfolders, names in os.walk(os.path.join(ROOT, top)):
            subfolders[:] = [d for d in subfolders if d != "__pycache__"]
            found += [os.path.relpath(os.path.join(folder, n), ROOT) for n in names if not n.endswith(".pyc")]
    return sorted(found)


def build_key() -> str:
    """SHA-256 of everything that goes into the executable (see the module docstring)."""
    digest = hashlib.sha256()
    digest.update(f"{sys.version}\0{platform.machine()}\0{platform.libc_ver()}\0".encode())
    for rel in _input_files():
        with open(os.path.join(ROOT, rel), "rb") as fh:
            content = fh.read()
        digest.update(f"{rel}\0{len(content)}\0".encode() + content)
    return digest.hexdigest()


def _replace(target: str, fill) -> None:
    """Write a temporary file beside `target` with `fill(path)`, then rename it over `target`:
    a running copy of the old executable keeps working, nobody sees a half-written file, and
    concurrent builds (two `make test` at once) do not interleave."""
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(target)}.")
    os.close(fd)
    try:
        fill(partial)
        os.replace(partial, target)
    except BaseException:
        os.unlink(partial)
        raise


def _write_text(text: str):
    def fill(path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(path, 0o644)
    return fill


def _pyinstaller(cache: str, key: str) -> str:
    """Build into a scratch folder of the cache, then move the result to cache/<key>/."""
    scratch = tempfile.mkdtemp(dir=cache, prefix=f".build-{key[:12]}-")
    try:
        subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                        "--distpath", os.path.join(scratch, "dist"), "--workpath", os.path.join(scratch, "work"),
                        SPEC], cwd=ROOT, check=True, timeout=BUILD_TIMEOUT_S)
        entry = os.path.join(cache, key)
        os.makedirs(os.path.join(scratch, "entry"))
        os.replace(os.path.join(scratch, "dist", NAME), os.path.join(scratch, "entry", NAME))
        try:
            os.rename(os.path.join(scratch, "entry"), entry)
        except OSError:  # another build of the same inputs finished first: keep that one
            if not os.path.isfile(os.path.join(entry, NAME)):
                raise
        return os.path.join(entry, NAME)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _prune(cache: str, keep: str) -> None:
    """Keep the KEEP_BUILDS most recently used builds (`keep` among them)."""
    entries = [os.path.join(cache, n) for n in os.listdir(cache) if not n.startswith(".")]
    entries.sort(key=os.path.getmtime, reverse=True)
    for old in entries[KEEP_BUILDS:]:
        if os.path.basename(old) != keep:
            shutil.rmtree(old, ignore_errors=True)


def build() -> str:
    """Make dist/rewards current; return its path."""
    key = build_key()
    target = os.path.join(ROOT, "dist", NAME)
    stamp = target + ".key"
    if os.path.isfile(target) and os.path.isfile(stamp):
        with open(stamp, encoding="utf-8") as fh:
            if fh.read().strip() == key:
                print(f"{target} is up to date ({key[:12]})", file=sys.stderr)
                return target
    cache = cache_dir()
    os.makedirs(cache, exist_ok=True)
    cached = os.path.join(cache, key, NAME)
    fresh = not os.path.isfile(cached)
    if not fresh:
        print(f"using the cached build {cached}", file=sys.stderr)
        os.utime(os.path.dirname(cached))
    else:
        started = time.monotonic()
        print(f"building {NAME} with PyInstaller ({key[:12]}; about 30 s)", file=sys.stderr)
        cached = _pyinstaller(cache, key)
        print(f"built in {time.monotonic() - started:.0f} s: {cached}", file=sys.stderr)
    with contextlib.suppress(FileNotFoundError):  # the stamp never names another build than dist/rewards
        os.unlink(stamp)
    _replace(target, lambda path: shutil.copy2(cached, path))
    if fresh and build_key() != key:  # a source changed while PyInstaller read them: neither stamp nor cache
        shutil.rmtree(os.path.dirname(cached), ignore_errors=True)
        print("sources changed during the build: not cached, the next build starts again", file=sys.stderr)
        return target
    _replace(stamp, _write_text(key + "\n"))
    _prune(cache, key)
    return target


if __name__ == "__main__":
    print(build())
