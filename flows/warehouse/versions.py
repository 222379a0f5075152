"""Published versions: each publish is one directory, switched in by one atomic pointer swap.

``<home>/published/<version>/`` holds one night's ``warehouse.duckdb`` and ``marts/`` (Parquet
files and ``_manifest.json``). ``<home>/published/current`` is a symlink to the live version, and
the stable reader paths ``<home>/warehouse.duckdb`` and ``<home>/marts`` are symlinks through it.
Publishing writes a new version under a temporary name, renames it to its final name and then
replaces ``current`` with :func:`os.replace`: readers see the old version or the new one, never a
mix, and a kill at any point leaves the old version live and temporary names that
:func:`clean_leftovers` removes at the next start. docs/architecture-publish.md explains the design.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

#: versions kept: the live one and the one before it (a reader that resolved the old path just
#: before the swap still finds its file; a reader holding a file open keeps it even when deleted)
KEEP_VERSIONS = 2
CURRENT = "current"
DATABASE = "warehouse.duckdb"
MARTS = "marts"
_TMP = ".tmp"


def published_root(home: Path) -> Path:
    return home / "published"


def current_version(home: Path) -> Path | None:
    """The live version's directory, or None before the first publish."""
    link = published_root(home) / CURRENT
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


@dataclass
class StagedVersion:
    """One publish being written: a temporary directory, renamed into place only when complete."""

    home: Path
    name: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        self.dir = published_root(self.home) / f".{self.name}.{self.token}{_TMP}"
        (self.dir / MARTS).mkdir(parents=True)

    @property
    def database(self) -> Path:
        return self.dir / DATABASE

    @property
    def marts(self) -> Path:
        return self.dir / MARTS

    def commit(self) -> Path:
        """Make every file durable, give the version its final name and make it the live one: the
        ``os.replace`` of the ``current`` link is the one instant readers switch versions."""
        if Path(f"{self.database}.wal").exists():  # detach checkpoints; a WAL left over would be lost
            raise RuntimeError(f"{self.database}.wal still exists after checkpoint; not publishing")
        for path in [self.database, *self.marts.iterdir()]:
            _fsync(path)
        _fsync_dir(self.marts)
        _fsync_dir(self.dir)
        root = published_root(self.home)
        final = root / self.name
        if final.exists():  # the same run published twice: keep both, apart
            final = root / f"{self.name}.{self.token}"
        os.rename(self.dir, final)
        link = root / f".{CURRENT}.{self.token}{_TMP}"
        os.symlink(final.name, link)
        os.replace(link, root / CURRENT)
        _fsync_dir(root)
        ensure_reader_links(self.home)
        return final

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def ensure_reader_links(home: Path) -> None:
    """``<home>/warehouse.duckdb`` and ``<home>/marts`` as symlinks through ``published/current``.

    Created once; they never change afterwards (the ``current`` swap switches both). A home
    published before versions existed has a real file and directory there: the file is replaced
    by the link atomically (readers holding it open keep reading it); the directory cannot be
    renamed over, so it is moved aside first and ``<home>/marts`` is missing for that instant,
    once in the life of the home."""
    root = published_root(home).name
    for name in (DATABASE, MARTS):
        path, target = home / name, f"{root}/{CURRENT}/{name}"
        if path.is_symlink() and os.readlink(path) == target:
            continue
        token = uuid.uuid4().hex[:12]
        link = home / f".{name}.{token}{_TMP}"
        os.symlink(target, link)
        if path.is_dir() and not path.is_symlink():
            aside = published_root(home) / f".legacy-{name}.{token}{_TMP}"
            os.rename(path, aside)
            os.replace(link, path)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(link, path)
    _fsync_dir(home)


def clean_leftovers(home: Path) -> list[Path]:
    """Remove what a killed publish left behind, and versions older than :data:`KEEP_VERSIONS`.

    Call under the run lock (no publish is running): every ``*.tmp`` name under
    ``<home>/published`` is a staged version, link or moved-aside directory of a publish that did
    not finish; ``.*.tmp`` files in ``<home>`` and ``<home>/marts`` (and their ``.wal``) are those of
    the publish before versioned directories. Returns what was removed."""
    removed: list[Path] = []
    root = published_root(home)
    candidates = list(root.glob(f".*{_TMP}")) if root.is_dir() else []
    candidates += list(home.glob(".*.tmp")) + list(home.glob(".*.tmp.wal"))
    marts = home / MARTS
    if marts.is_dir() and not marts.is_symlink():
        candidates += list(marts.glob(".*.tmp"))
    for path in candidates:
        _remove(path)
        removed.append(path)
    if removed:
        log.warning(
            "removed what %d killed publish step(s) left: %s", len(removed), [p.name for p in removed]
        )
    pruned = _prune_versions(home)
    if pruned:
        log.info(
            "removed published version(s) %s (older than the last %d)",
            [p.name for p in pruned],
            KEEP_VERSIONS,
        )
    return removed + pruned


def _prune_versions(home: Path) -> list[Path]:
    root = published_root(home)
    live = current_version(home)
    if live is None:
        return []
    versions = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]
    older = sorted((p for p in versions if p != live), key=lambda p: p.stat().st_mtime, reverse=True)
    stale = older[KEEP_VERSIONS - 1 :]
    for path in stale:
        _remove(path)
    return stale


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
