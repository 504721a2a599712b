"""Run a per-value function once per distinct input, in chunks over the cores, into a DuckDB table.

The distinct inputs come from SQL, the results go back as an Arrow table that the caller joins
on the input columns. Small jobs run in-process; big ones are cut into chunks for a process pool
that lives for one `normalize_staged` call. Workers are forked: they start in milliseconds with
every library already imported, and they only run pure-Python per-value functions (never DuckDB,
whose threads a fork does not copy).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

import duckdb
import pyarrow as pa

PARALLEL_MIN = 30_000  # below this many distinct inputs a pool costs more than it saves
CHUNK = 10_000


def _apply(fn: Callable[[Any], tuple], items: Sequence[Any]) -> list[tuple]:
    return [fn(item) for item in items]


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Workers:
    """A lazily started process pool for the duration of one normalization (a context manager)."""

    def __init__(self, processes: int | None = None, parallel_min: int = PARALLEL_MIN) -> None:
        self.processes = processes or cores()
        self.parallel_min = parallel_min
        self._pool: Executor | None = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _executor(self) -> Executor:
        if self._pool is None:
            ctx = multiprocessing.get_context("fork")
            self._pool = ProcessPoolExecutor(max_workers=self.processes, mp_context=ctx)
        return self._pool

    def map(self, fn: Callable[[Any], tuple], items: Sequence[Any]) -> list[tuple]:
        """`[fn(x) for x in items]`, spread over the pool when the list is long enough."""
        if self.processes < 2 or len(items) < self.parallel_min:
            return _apply(fn, items)
        chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
        pool = self._executor()
        results = pool.map(_apply, itertools.repeat(fn), chunks)
        return [r for chunk in results for r in chunk]


def map_distinct(
    con: duckdb.DuckDBPyConnection,
    workers: Workers,
    *,
    inputs_sql: str,
    key_columns: dict[str, pa.DataType],
    fn: Callable[[Any], tuple],
    result_columns: dict[str, pa.DataType],
    table: str,
    single: bool = False,
) -> int:
    """Create temp table `table`: the distinct rows of `inputs_sql` plus `fn`'s result fields.

    `fn` gets one input row (a tuple, or the bare value when `single`) and returns a tuple
    whose fields line up with `result_columns`. Returns the number of distinct inputs.
    """
    rows = con.execute(inputs_sql).fetchall()
    items = [r[0] for r in rows] if single else rows
    results = workers.map(fn, items)
    arrays = {
        name: pa.array([r[i] for r in rows], type=t)
        for i, (name, t) in enumerate(key_columns.items())
    }
    for i, (name, t) in enumerate(result_columns.items()):
        arrays[name] = pa.array([r[i] for r in results], type=t)
    data = pa.table(arrays) if arrays else pa.table({})
    view = f"{table}__arrow"
    con.register(view, data)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {view}")
    finally:
        con.unregister(view)
    return len(rows)
