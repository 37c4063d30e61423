"""A batch's output: one JSON line per row, appended and flushed as each row ends, so a run
killed at any point (`kill -9` too) leaves every finished row and at most a torn last line.

Starting again, the rows already written are read back (their keys are skipped) and a torn
last line is cut off (its row runs again), as are rows that failed only because the app could
not be reached (they run again; an app's own error is kept). A Parquet output is kept as such a journal beside
it (`OUT.parquet.rows.jsonl`) while the batch runs, and written as Parquet when it ends.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from ..core.mapping import TRANSIENT
from ..errors import BatchError
from ..models import RowResult
from .sources import format_of, need_pyarrow

PARQUET_ROWS = 10_000  # journal lines written to the Parquet file at a time
RETRYABLE = {kind.__name__ for kind in TRANSIENT}  # rows failed so are run again by the next run
COLUMNS = ("index", "key", "status", "outputs", "error", "error_type", "duration", "attempts", "session")


class JsonLines:
    """A JSON Lines output: rows written so far, and rows appended as they end."""

    def __init__(self, path: Path, target: Path | None = None) -> None:
        self.path = path  # where rows are appended
        self.target = target or path  # the output the user named
        self._file: IO[bytes] | None = None

    def written(self, by_key: bool) -> tuple[set[Any], int, int]:
        """(the keys, or indexes, of the rows written; how many; how many failed), after
        cutting off a torn last line and the rows that failed only to reach the app (they run again)."""
        done: set[Any] = set()
        failed = redo = good = 0  # good: bytes of whole, valid lines
        if not self.path.exists():
            return done, 0, 0
        with open(self.path, "rb") as f:
            for number, line in enumerate(f, 1):
                if not line.endswith(b"\n"):
                    break  # torn: the run was killed while writing it
                try:
                    row = json.loads(line)
                    key = row["key"] if by_key else row["index"]
                except (ValueError, KeyError, TypeError):
                    if f.read(1):  # not the last line: this is no batch output
                        raise BatchError(f"{self.path}, line {number}, is not a row of a batch output: "
                                         "choose another output file.") from None
                    break
                good += len(line)
                if row.get("error_type") in RETRYABLE:
                    redo += 1
                    continue
                done.add(key)
                failed += row.get("status") != "ok"
        if good < self.path.stat().st_size:
            os.truncate(self.path, good)
        if redo:
            self._drop_retryable()
        return done, len(done), failed

    def _drop_retryable(self) -> None:
        partial = self.path.with_name(self.path.name + ".partial")
        with open(self.path, "rb") as rows, open(partial, "wb") as kept:
            for line in rows:
                if json.loads(line).get("error_type") not in RETRYABLE:
                    kept.write(line)
        os.replace(partial, self.path)

    def write(self, result: RowResult) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")
        line = json.dumps({k: getattr(result, k) for k in COLUMNS}, ensure_ascii=False, default=str)
        self._file.write(line.encode() + b"\n")
        self._file.flush()  # in the OS: a killed process loses nothing written

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def finish(self) -> None:
        """All rows are written."""
        self.close()


class Parquet(JsonLines):
    """A Parquet output: a JSON Lines journal while the batch runs, Parquet when it ends
    (outputs as JSON text: their shape is the endpoint's)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path.with_name(path.name + ".rows.jsonl"), path)
        need_pyarrow()  # said before anything runs

    def written(self, by_key: bool) -> tuple[set[Any], int, int]:
        if self.target.exists() and not self.path.exists():  # an ended batch, run again: back to a journal
            partial = self.path.with_name(self.path.name + ".partial")
            with open(partial, "wb") as journal:
                for batch in need_pyarrow().ParquetFile(self.target).iter_batches():
                    for row in batch.to_pylist():
                        row["key"] = json.loads(row["key"]) if row["key"] is not None else None
                        row["outputs"] = json.loads(row["outputs"]) if row["outputs"] is not None else None
                        journal.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
            os.replace(partial, self.path)
        return super().written(by_key)

    def finish(self) -> None:
        self.close()
        import pyarrow as pa  # type: ignore[import-untyped]

        pq = need_pyarrow()
        schema = pa.schema([("index", pa.int64()), ("key", pa.string()), ("status", pa.string()),
                            ("outputs", pa.string()), ("error", pa.string()), ("error_type", pa.string()),
                            ("duration", pa.float64()), ("attempts", pa.int64()), ("session", pa.string())])
        partial = self.target.with_name(self.target.name + ".partial")
        with pq.ParquetWriter(partial, schema) as writer, open(self.path, "rb") as journal:
            chunk: list[dict[str, Any]] = []
            for line in journal:
                row = json.loads(line)
                row["key"] = None if row["key"] is None else json.dumps(row["key"])
                row["outputs"] = None if row["outputs"] is None else json.dumps(row["outputs"], ensure_ascii=False)
                chunk.append(row)
                if len(chunk) == PARQUET_ROWS:
                    writer.write_table(pa.Table.from_pylist(chunk, schema))
                    chunk.clear()
            if chunk:
                writer.write_table(pa.Table.from_pylist(chunk, schema))
        os.replace(partial, self.target)
        self.path.unlink()


def sink_for(path: Path) -> JsonLines:
    """The output writer for a .jsonl or .parquet file (not CSV: outputs are nested)."""
    fmt = format_of(str(path))
    if fmt == "csv":
        raise BatchError(f"{path}: a batch writes JSON Lines (.jsonl) or Parquet (.parquet), not CSV.")
    return Parquet(path) if fmt == "parquet" else JsonLines(path)
