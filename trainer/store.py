"""The EdgeDLPerf dataset store: append-only, crash-safe shards of JSON records.

Layout under the data root (``data/edgedlperf`` in the repo)::

    models/<space>/<stamp>-<pid>-<token>-<n>.jsonl.gz   sealed model records: graph + Vela
    labels/<target>/<stamp>-<pid>-<token>-<n>.jsonl.gz  sealed labels of later passes (CPU)
    .partial/<kind>__<group>__<stamp>-<pid>-<token>-<n>.jsonl  in-flight records (untracked)

A writer appends one JSON line per record to a ``.partial`` file and fsyncs it, so a SIGKILL
loses at most the record being written (a torn last line is dropped when read). Every
``shard_size`` records, and on close, the partial file is *sealed*: compressed into its final
name (written to a temporary name, fsynced, renamed) and removed. A partial left by a killed
process is sealed by the next writer; if its final shard already exists the partial is a
leftover of an interrupted seal and is dropped. Sealed shards are never rewritten, so git sees
only new files; the whole store is the union of the shards, first record of a key winning.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

from edge_predictor.errors import InputError

__all__ = ["Store", "ShardWriter", "default_root"]

MODELS = "models"
LABELS = "labels"
_PARTIAL = ".partial"


def default_root() -> str:
    """``$EDGE_PERF_DATA``; else ``data/edgedlperf`` beside the package when it runs from a
    checkout; else ``data/edgedlperf`` under the current directory (a non-editable install
    run from the checkout, whose package lives in site-packages)."""
    env = os.environ.get("EDGE_PERF_DATA")
    if env:
        return env
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    beside = os.path.join(here, "data", "edgedlperf")
    if os.path.isdir(beside):
        return beside
    return os.path.abspath(os.path.join("data", "edgedlperf"))


def _read_lines(raw: bytes) -> List[Dict[str, Any]]:
    out = []
    for line in raw.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a torn last line of a killed writer
    return out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ShardWriter:
    """Appends records of one kind and group (e.g. models of one space) to sealed shards."""

    def __init__(self, store: "Store", kind: str, group: str, shard_size: int = 50):
        self.store, self.kind, self.group, self.shard_size = store, kind, group, shard_size
        self._n_shard = 0
        # stamp-pid-token: unique even for two writers of one process in the same second
        self._stamp = "{}-{}-{}".format(time.strftime("%Y%m%dT%H%M%S", time.gmtime()),
                                        os.getpid(), os.urandom(3).hex())
        self._fh: Optional[io.BufferedWriter] = None
        self._count = 0
        self._path = ""

    def _open(self) -> None:
        name = "{}__{}__{}-{}.jsonl".format(self.kind, self.group, self._stamp, self._n_shard)
        self._path = os.path.join(self.store.partial_dir, name)
        self._fh = open(self._path, "ab")
        self._count = 0

    def append(self, record: Dict[str, Any]) -> None:
        """Write one record durably (fsync) and seal the shard when it is full."""
        if self._fh is None:
            self._open()
        self._fh.write(json.dumps(record, separators=(",", ":"), sort_keys=True).encode() + b"\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._count += 1
        if self._count >= self.shard_size:
            self.close()

    def close(self) -> None:
        """Seal the current partial shard, if any."""
        if self._fh is None:
            return
        self._fh.close()
        self._fh = None
        self.store.seal(self._path)
        self._n_shard += 1

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Store:
    """The dataset on disk.

    Args:
        root: the data folder; created on first write.
    """

    def __init__(self, root: Optional[str] = None):
        self.root = root or default_root()
        self.partial_dir = os.path.join(self.root, _PARTIAL)

    def _ensure_writable(self) -> None:
        try:
            os.makedirs(self.partial_dir, exist_ok=True)
            probe = os.path.join(self.partial_dir, ".probe-{}".format(os.getpid()))
            with open(probe, "wb"):
                pass
            os.unlink(probe)
        except OSError as err:
            raise InputError("{}: data folder is not writable ({})".format(
                self.root, err.strerror or err)) from None

    def writer(self, kind: str, group: str, shard_size: int = 50) -> ShardWriter:
        """A writer for ``kind`` (``"models"`` or ``"labels"``) and ``group`` (space or target).

        Orphaned partial shards of killed writers are sealed first.
        """
        self._ensure_writable()
        self.seal_orphans()
        return ShardWriter(self, kind, group, shard_size)

    def _final_path(self, partial_path: str) -> str:
        kind, group, rest = os.path.basename(partial_path).split("__", 2)
        return os.path.join(self.root, kind, group, rest + ".gz")

    def seal(self, partial_path: str) -> Optional[str]:
        """Compress a partial shard into its final, immutable name; returns that name."""
        final = self._final_path(partial_path)
        if os.path.exists(final):  # sealed before a crash removed the partial: a leftover
            os.unlink(partial_path)
            return final
        with open(partial_path, "rb") as f:
            records = _read_lines(f.read())
        if records:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            body = b"".join(json.dumps(r, separators=(",", ":"), sort_keys=True).encode() + b"\n"
                            for r in records)
            tmp = final + ".tmp"
            with open(tmp, "wb") as raw:
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as gz:
                    gz.write(body)
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(tmp, final)
        os.unlink(partial_path)
        return final if records else None

    def seal_orphans(self) -> int:
        """Seal partial shards whose writer process is gone; returns how many."""
        if not os.path.isdir(self.partial_dir):
            return 0
        n = 0
        for name in sorted(os.listdir(self.partial_dir)):
            if not name.endswith(".jsonl"):
                continue
            pid = int(name.rsplit("__", 1)[1].split("-")[1])
            if pid != os.getpid() and _pid_alive(pid):
                continue
            self.seal(os.path.join(self.partial_dir, name))
            n += 1
        return n

    def _files(self, kind: str, group: Optional[str]) -> Iterator[Tuple[str, bool]]:
        base = os.path.join(self.root, kind)
        groups = [group] if group else (sorted(os.listdir(base)) if os.path.isdir(base) else [])
        for g in groups:
            d = os.path.join(base, g)
            if os.path.isdir(d):
                for name in sorted(os.listdir(d)):
                    if name.endswith(".jsonl.gz"):
                        yield os.path.join(d, name), True
        if os.path.isdir(self.partial_dir):
            for name in sorted(os.listdir(self.partial_dir)):
                k, g, _ = name.split("__", 2) if name.count("__") >= 2 else ("", "", "")
                if k == kind and (group is None or g == group) and name.endswith(".jsonl"):
                    yield os.path.join(self.partial_dir, name), False

    def records(self, kind: str, group: Optional[str] = None) -> Iterator[Dict[str, Any]]:
        """Every record of a kind (sealed and in-flight), the first of a duplicate key only.

        The key is ``(space, seed)`` for models and ``(target, space, seed, pass)`` for labels.
        """
        seen = set()
        for path, sealed in self._files(kind, group):
            try:
                with open(path, "rb") as f:
                    raw = f.read()
                raw = gzip.decompress(raw) if sealed else raw
            except (OSError, EOFError):
                continue  # a partial sealed (and removed) while we listed it
            for rec in _read_lines(raw):
                key = (rec.get("space"), rec.get("seed")) if kind == MODELS else (
                    rec.get("target"), rec.get("space"), rec.get("seed"), rec.get("pass", 1))
                if key not in seen:
                    seen.add(key)
                    yield rec

    def done_seeds(self, space: str) -> set:
        """Seeds of ``space`` that already have a model record (ok or failed)."""
        return {r["seed"] for r in self.records(MODELS, space)}
