"""A batch's input: JSON Lines, CSV or Parquet (streamed by record batch), or JSON Lines on
stdin; each record made a Row of the endpoint's values.

Columns go to the parameters of the same name unless a mapping renames them (`--map
COLUMN=PARAM`); other columns are left out. A CSV cell is text, converted to its parameter's
type as on the command line; an empty cell leaves the parameter its default. A file column
holds a path (relative to the input file's folder) or a URL, uploaded as for `call`.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..binding import convert_text
from ..errors import BatchError, ParameterError
from ..models import Endpoint, Row, is_url

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet",
           ".pq": "parquet"}
PARQUET_BATCH = 1024  # rows read from a Parquet file at a time
EXTRA_HINT = "install the batch extra: pip install 'gradio-session[batch]'"


def format_of(path: str) -> str:
    """jsonl, csv or parquet, from the file's suffix (`-`: JSON Lines on stdin)."""
    if path == "-":
        return "jsonl"
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise BatchError(f"{path}: a batch reads and writes .jsonl, .csv or .parquet files (or - for JSON Lines "
                         "on stdin); name the file with one of those suffixes.")
    return fmt


def need_pyarrow() -> Any:
    """pyarrow.parquet, or a BatchError naming the extra."""
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        raise BatchError(f"Parquet files need pyarrow: {EXTRA_HINT}.") from None
    return pq


class Source:
    """One input: its records in order, how many there are, and the Rows they make."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.format = format_of(path)
        self.folder = Path.cwd() if path == "-" else Path(path).expanduser().resolve().parent
        if path != "-" and not Path(path).expanduser().is_file():
            raise BatchError(f"The input {path} is not a file.")
        if self.format == "parquet":
            need_pyarrow()

    @property
    def name(self) -> str:
        """The input as the batch record keeps it (an absolute path, or `-`)."""
        return "-" if self.path == "-" else str(Path(self.path).expanduser().resolve())

    def total(self) -> int | None:
        """How many records (None for stdin); reads the file once, off the event loop."""
        if self.path == "-":
            return None
        if self.format == "parquet":
            return int(need_pyarrow().ParquetFile(self.path).metadata.num_rows)
        if self.format == "jsonl":  # counted, not parsed: a bad line is said when it is reached
            with open(Path(self.path).expanduser(), "rb") as f:
                return sum(1 for line in f if line.strip())
        return sum(1 for _ in self.records())  # CSV: a quoted cell may hold a newline

    def records(self) -> Iterator[Any]:
        """The records in order: dicts of columns (a JSON line may also be a list or a value)."""
        if self.format == "parquet":
            for batch in need_pyarrow().ParquetFile(self.path).iter_batches(batch_size=PARQUET_BATCH):
                yield from batch.to_pylist()
            return
        stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8") if self.path == "-" else \
            open(Path(self.path).expanduser(), encoding="utf-8", newline="")
        with stream:
            if self.format == "csv":
                yield from csv.DictReader(stream)
                return
            for number, line in enumerate(stream, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError as exc:
                        raise BatchError(f"{self.path}, line {number}, is not JSON: {exc}") from None

    def check(self, endpoint: Endpoint, mapping: dict[str, str], key: str | None) -> None:
        """Before anything runs or is recorded: the mapping, and the first record's columns and key
        (stdin is checked as it is read: it can't be read twice)."""
        columns = Columns(endpoint, mapping, self.folder, text=self.format == "csv")
        if self.path == "-":
            return
        first = next(iter(self.records()), None)
        if first is None:
            return
        columns.check(first)
        if key is not None:
            key_of(first, key, 0, self.path)

    def rows(self, endpoint: Endpoint, mapping: dict[str, str], key: str | None,
             skip: set[Any]) -> Iterator[Row]:
        """The Rows of the records whose key (the key column's value, else the index) is not in
        `skip` (the rows an earlier run wrote)."""
        columns = Columns(endpoint, mapping, self.folder, text=self.format == "csv")
        for index, record in enumerate(self.records()):
            row_key = index if key is None else key_of(record, key, index, self.path)
            if row_key in skip:
                continue
            if index == 0 and self.path == "-":  # a file's first record was checked before the run
                columns.check(record)
            yield columns.row(index, record, None if key is None else row_key)


def key_of(record: Any, key: str, index: int, path: str) -> Any:
    if not isinstance(record, dict) or key not in record:
        raise BatchError(f"{path}: record {index} has no key column {key!r}.")
    return record[key]


class Columns:
    """Records -> the endpoint's values: renamed by the mapping, text converted, paths resolved."""

    def __init__(self, endpoint: Endpoint, mapping: dict[str, str], folder: Path, *, text: bool) -> None:
        self.endpoint, self.mapping, self.folder, self.text = endpoint, mapping, folder, text
        self.params = {p.name: p for p in endpoint.parameters}
        self.targets = set(mapping.values())
        unknown = [p for p in mapping.values() if p not in self.params]
        if unknown:
            raise ParameterError(f"{endpoint.name} has no parameter {', '.join(map(repr, unknown))}. Its parameters: "
                                 f"{', '.join(self.params) or 'none'}.")

    def check(self, record: Any) -> None:
        """The first record: every mapped column is there, and some column feeds a parameter."""
        if not isinstance(record, dict):
            return
        missing = [c for c in self.mapping if c not in record]
        if missing:
            raise BatchError(f"The input has no column {', '.join(map(repr, missing))}. Its columns: "
                             f"{', '.join(map(str, record))}.")
        used = [c for c in record if self.mapping.get(c, c) in self.params]
        required = [p.name for p in self.endpoint.parameters if not p.has_default]
        if not used and required:
            raise BatchError(
                f"No column of the input is a parameter of {self.endpoint.name}: its columns are "
                f"{', '.join(map(str, record))}, its parameters {', '.join(self.params)}. Map them with "
                "--map COLUMN=PARAMETER.")

    def row(self, index: int, record: Any, key: Any) -> Row:
        if not isinstance(record, dict):
            return Row(index, tuple(record) if isinstance(record, list) else (record,), key=key)
        values: dict[str, Any] = {}
        for column, value in record.items():
            name = str(self.mapping.get(column, column))
            param = self.params.get(name)
            if param is None or (column not in self.mapping and column in self.targets):
                continue  # not a parameter, or one a mapped column feeds
            if self.text and isinstance(value, str):
                if value == "":
                    continue
                value = convert_text(param, value)
            if param.file and isinstance(value, str):
                value = self._local(value)
            elif param.file == "many" and isinstance(value, list):
                value = [self._local(v) if isinstance(v, str) else v for v in value]
            values[name] = value
        return Row(index, (), values, key=key)

    def _local(self, value: str) -> str:
        """A relative path is the input file's folder's; URLs and absolute paths stay."""
        if is_url(value) or Path(value).expanduser().is_absolute():
            return value
        return str(self.folder / value)
