"""Copy results from one tracker to another (a local folder to S3, one bucket to another...).

:func:`copy` reads the source with :meth:`~resulttracker.ResultTracker.scan`, so
memory holds one batch of keys however large the store is, and writes each key
with ``put``: the destination gets the same results, with the same types, NaN
and infinities included, whatever the two backends are.

What "already there" means
--------------------------
A key is *present* in the destination when ``get`` returns results for it (any
results at all, not only the same names). Without ``overwrite``, a present key
is never written:

* if its results are exactly the source's (same names, types and values, NaN
  equal to NaN), it counts as ``unchanged``: the copy is already there;
* otherwise it is a *conflict*, listed in :attr:`CopyReport.conflicts` so that
  the caller can see which keys were not copied, and decide to copy again with
  ``overwrite=True``. A destination key whose document is corrupt is a
  conflict too.

With ``overwrite=True`` every source key is written (keys whose results are
already identical are still counted as ``unchanged`` and left alone, so a
repeated copy does not rewrite anything). Keys present only in the destination
are never touched. Source keys whose document is corrupt cannot be copied
faithfully and are listed in :attr:`CopyReport.corrupt`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .api import BATCH_SIZE, Record, ResultTracker
from .errors import CorruptResultError

__all__ = ["CopyReport", "copy"]


@dataclass
class CopyReport:
    """What :func:`copy` did.

    Attributes
    ----------
    copied : int
        Keys written to the destination.
    unchanged : int
        Keys whose results were already identical in the destination (not written).
    conflicts : list of str
        Keys present in the destination with other results (or a corrupt
        document) and therefore not copied, because ``overwrite`` was false.
    corrupt : list of str
        Source keys whose stored document is corrupt; they were not copied.
    """

    copied: int = 0
    unchanged: int = 0
    conflicts: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)

    @property
    def read(self) -> int:
        """Source keys read, corrupt ones included."""
        return self.copied + self.unchanged + len(self.conflicts) + len(self.corrupt)

    @property
    def complete(self) -> bool:
        """Whether every source key now has the source's results in the destination."""
        return not self.conflicts and not self.corrupt


def copy(
    source: ResultTracker,
    destination: ResultTracker,
    *,
    prefix: str | None = None,
    overwrite: bool = False,
    progress: Callable[[CopyReport], object] | None = None,
) -> CopyReport:
    """Copy every key's results from ``source`` to ``destination``.

    Parameters
    ----------
    source, destination : ResultTracker
        Two trackers, on any backends (the source must be able to list its keys).
        They may be the same store: every key is then ``unchanged``.
    prefix : str, optional
        Only keys equal to it or below it (whole path segments).
    overwrite : bool, default False
        Replace the results of keys already present in the destination. When
        false, such keys are left as they are and reported as conflicts (or as
        unchanged when their results are identical); see the module docstring.
    progress : callable, optional
        Called with the report so far after every key.

    Returns
    -------
    CopyReport
        Counts of copied and unchanged keys, and the keys not copied.

    Raises
    ------
    InvalidKeyError
        ``prefix`` is invalid; nothing is read or written.
    StoreError
        A store could not be read or written; keys copied before stay copied.
    """
    report = CopyReport()

    def note_corrupt(error: CorruptResultError) -> None:
        report.corrupt.append(error.key)
        if progress is not None:
            progress(report)

    batch: list[Record] = []
    for record in source.scan(prefix, on_corrupt=note_corrupt):
        batch.append(record)
        if len(batch) >= BATCH_SIZE:
            _copy_batch(batch, destination, overwrite, report, progress)
            batch = []
    if batch:
        _copy_batch(batch, destination, overwrite, report, progress)
    return report


def _copy_batch(
    batch: Sequence[Record],
    destination: ResultTracker,
    overwrite: bool,
    report: CopyReport,
    progress: Callable[[CopyReport], object] | None,
) -> None:
    present = _present(destination, [record.key for record in batch])
    for record in batch:
        existing = present.get(record.key, _ABSENT)
        if existing is _ABSENT:
            _write(destination, record)
            report.copied += 1
        elif existing is not _CORRUPT and same_results(existing, record.results):  # type: ignore[arg-type]
            report.unchanged += 1
        elif not overwrite:
            report.conflicts.append(record.key)
        else:
            _write(destination, record)
            report.copied += 1
        if progress is not None:
            progress(report)


def _write(destination: ResultTracker, record: Record) -> None:
    # Exactly as read: values put refuses (null, lists, objects, long text,
    # an empty document) that documents written by torchx may hold are kept.
    destination._put_exactly(record.key, record.results)


#: Markers in :func:`_present`'s answer.
_ABSENT: object = object()
_CORRUPT: object = object()


def _present(destination: ResultTracker, keys: list[str]) -> dict[str, object]:
    """``{key: results}`` of the keys stored in the destination (an empty
    document included); :data:`_CORRUPT` marks a corrupt document."""
    try:
        return dict(destination._get_many(keys))
    except CorruptResultError:
        pass
    found: dict[str, object] = {}
    for key in keys:  # find which keys are corrupt, one at a time
        try:
            found.update(destination._get_many([key]))
        except CorruptResultError:
            found[key] = _CORRUPT
    return found


def same_results(left: Mapping[str, object], right: Mapping[str, object]) -> bool:
    """Whether two results are identical: same names, and for each the same type
    and value, NaN equal to NaN and ``0.0`` unequal to ``-0.0`` (so ``1``,
    ``1.0`` and ``True`` all differ); lists and objects are identical when
    their JSON texts are."""
    if left.keys() != right.keys():
        return False
    return all(_same_value(left[name], right[name]) for name in left)


def _same_value(left: object, right: object) -> bool:
    if type(left) is not type(right):
        return False
    if isinstance(left, (list, dict)):
        # NaN inside a list is not equal to itself; JSON text is exact about
        # types (1, 1.0, true), signs (-0.0) and order.
        return json.dumps(left) == json.dumps(right)
    if isinstance(left, float) and isinstance(right, float):
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        # 0.0 == -0.0, but a copy must keep the sign.
        return left == right and math.copysign(1.0, left) == math.copysign(1.0, right)
    return left == right
