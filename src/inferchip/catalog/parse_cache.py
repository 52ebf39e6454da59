"""The parsed YAML of the files shipped in the catalogue, kept between runs in the user's cache folder.

A one-off command (``inferchip predict``) spent about a tenth of its cold start parsing the two
large shipped files it reads on every run (``assumptions.yaml``, ``families.yaml``) and importing
PyYAML to do so; with this cache a run reads a small binary entry instead (~0.2 ms) and does not
import PyYAML at all. It is safe by construction:

* only files inside the package's catalogue folder are cached; a user's file is always parsed;
* an entry is used only when it was written from the very same bytes (a BLAKE2b digest of the
  file), by the same cache format, Python version (``marshal``'s format) and PyYAML
  installation; any other entry is stale: the file is parsed again and the entry rewritten;
* an entry holds plain data (``marshal`` of dicts, lists, strings, numbers, booleans and None,
  checked before it is written), and its payload carries its own digest, checked before it is
  loaded: a truncated, damaged or foreign entry is ignored, and loading one runs no code;
* entries are written atomically (:mod:`inferchip.atomic_io`), one per shipped file and
  installation (an edited file overwrites its entry, so the folder does not grow), and a cache
  folder that cannot be created or written is ignored: the cache only saves time, nothing needs it.

Folder: ``$INFERCHIP_CACHE_DIR`` when set (set to the empty string: no cache), else
``$XDG_CACHE_HOME/inferchip``, else ``~/.cache/inferchip``; entries are under ``parsed-yaml/``, in
a folder named by a digest of the catalogue folder's path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

FORMAT = 2  # 2: exponent floats such as 1.4e3 read as numbers (yaml_io._EXPONENT_FLOAT)
"""Bumped when the YAML loader (:mod:`inferchip.catalog.yaml_io`) changes what a parse returns."""
CATALOG_DIR = Path(os.path.realpath(Path(__file__).parent))
ENV = "INFERCHIP_CACHE_DIR"
_MAGIC = b"inferchip-parsed-yaml\n"
_DIGEST_BYTES = 16
_PLAIN_SCALARS = (str, int, float, bool, type(None))


def cache_dir() -> Path | None:
    """The user cache folder of inferchip; None when the cache is turned off or there is no home."""
    given = os.environ.get(ENV)
    if given is not None:
        return Path(os.path.expanduser(given)) if given.strip() else None
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "inferchip"
    try:
        return Path.home() / ".cache" / "inferchip"
    except (RuntimeError, KeyError, OSError):  # no HOME and no password entry
        return None


def entry_path(path: Path) -> Path | None:
    """The cache entry of a shipped catalogue file; None for any other file or without a cache."""
    try:
        rel = Path(os.path.realpath(path)).relative_to(CATALOG_DIR)
    except (ValueError, OSError):
        return None
    root = cache_dir()
    if root is None:
        return None
    # one folder per installed catalogue: two installations (a second checkout, another virtual
    # environment) do not overwrite each other's entries
    home = hashlib.blake2b(os.fsencode(CATALOG_DIR), digest_size=6).hexdigest()
    return root / "parsed-yaml" / home / ("__".join(rel.parts) + ".marshal")


@lru_cache(maxsize=1)
def _yaml_identity() -> str:
    """Where the installed PyYAML lives and its file's size and time, read without importing it:
    another PyYAML (an upgrade) makes every entry stale."""
    try:
        spec = importlib.util.find_spec("yaml")
        origin = spec.origin if spec is not None else None
        if origin is None:
            return ""
        st = os.stat(origin)
    except (ImportError, ValueError, OSError):
        return ""
    return f"{origin}:{st.st_size}:{st.st_mtime_ns}"


def _key(raw: bytes) -> tuple[Any, ...]:
    return (FORMAT, tuple(sys.version_info[:2]), _yaml_identity(), _digest(raw))


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=_DIGEST_BYTES).digest()


def load(path: Path, raw: bytes) -> dict[str, Any] | None:
    """The parsed mapping of ``path`` (whose bytes are ``raw``) from the cache; None on a miss."""
    entry = entry_path(path)
    if entry is None:
        return None
    try:
        blob = entry.read_bytes()
    except (OSError, ValueError):
        return None
    head = len(_MAGIC) + _DIGEST_BYTES
    if not blob.startswith(_MAGIC) or _digest(blob[head:]) != blob[len(_MAGIC):head]:
        return None  # not an entry, or a damaged one
    try:
        key, data = marshal.loads(blob[head:])
    except (EOFError, ValueError, TypeError):
        return None
    return data if key == _key(raw) and isinstance(data, dict) else None


def _plain(value: Any) -> bool:
    """Only data marshal writes and reads back exactly as PyYAML gave it (no dates, sets, tuples)."""
    if isinstance(value, dict):
        return all(isinstance(k, _PLAIN_SCALARS) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return isinstance(value, _PLAIN_SCALARS)


def store(path: Path, raw: bytes, data: dict[str, Any]) -> None:
    """Keep the parsed mapping of a shipped file for the next run; silently nothing when it cannot."""
    entry = entry_path(path)
    if entry is None:
        return
    try:
        if not _plain(data):
            return
        payload = marshal.dumps((_key(raw), data))
    except (RecursionError, ValueError):
        return
    from inferchip.atomic_io import write_bytes  # imported here: a hit writes nothing
    from inferchip.errors import OutputError

    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(entry, _MAGIC + _digest(payload) + payload, streams=False)  # a pipe there would block
    except (OSError, OutputError):
        pass
