"""Which files of a source's listing are ready to ingest, and a cursor so none is taken twice.

Plain functions over a listing (`list[RemoteFile]`) and a JSON-serialisable state dict, so a
Dagster sensor can keep the state in its cursor (`dump_state` / `load_state`) and tests can run
them without Dagster or a database.

A file is *ready* when
- its name is not temporary (`.part`, `.tmp`, `.filepart`, a leading `.`, ...), and
- with a done-marker convention (`done_marker: .done`): `x.csv.done` exists and is not older
  than `x.csv` (a marker left from an earlier version does not release a rewrite), or
- otherwise its (size, mtime) were observed unchanged for at least `settle_seconds` (0: at once).
  Observation times come from the poller's clock; the server's mtime is only an identity.

The cursor is keyed by content identity, not time: `requested` holds the (size, mtime) last
requested per name, so the same version is never requested twice and a file that arrives with
an *older* mtime than everything seen (a copy that preserved timestamps) is still taken.
`newest_mtime` is kept only to bound the state, never as a high-water mark.

Bounded state: `pending` holds only files in the current listing. A `requested` entry is kept
while its file is still listed (dropping it would re-request a file that stays on the server);
once the file is gone (moved to `processed/`, deleted) the entry is forgotten when its mtime is
older than `newest_mtime - forget_after_seconds`. The state therefore grows with the files that
stay on the server, and not with history. Should a forgotten file come back with the same
(size, mtime), it is requested again; ingestion identifies content by sha256 and records it as a
duplicate, so nothing is loaded twice.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from urllib.parse import unquote

from pipelines.transport.base import RemoteFile, is_temporary

STATE_VERSION = 1
FORGET_AFTER_SECONDS = 7 * 24 * 3600


def empty_state() -> dict:
    return {"version": STATE_VERSION, "requested": {}, "pending": {}, "newest_mtime": None}


def load_state(cursor: str | None) -> dict:
    """The state stored in a sensor cursor (None or '' is a fresh start)."""
    if not cursor:
        return empty_state()
    state = json.loads(cursor)
    return _checked(state)


def dump_state(state: dict) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _checked(state: dict | None) -> dict:
    if not state:
        return empty_state()
    if state.get("version") != STATE_VERSION:
        raise ValueError(
            f"discover state version {state.get('version')!r}; expected {STATE_VERSION}"
        )
    return {
        "version": STATE_VERSION,
        "requested": {k: list(v) for k, v in state.get("requested", {}).items()},
        "pending": {k: list(v) for k, v in state.get("pending", {}).items()},
        "newest_mtime": state.get("newest_mtime"),
    }


def listing_patterns(patterns: list[str], done_marker: str | None = None) -> list[str]:
    """The patterns to list with, so that done markers (`x.csv.done`) are in the listing too."""
    if not done_marker:
        return list(patterns)
    return list(patterns) + [p + done_marker for p in patterns]


def discover(
    files: list[RemoteFile],
    state: dict | None,
    *,
    settle_seconds: float,
    done_marker: str | None = None,
    now: float | None = None,
    forget_after_seconds: float = FORGET_AFTER_SECONDS,
) -> tuple[list[RemoteFile], dict]:
    """Split a listing into files to request now and the next state (the input is not changed).

    `files`: the source's complete listing (with done markers, see `listing_patterns`).
    `now`: the poller's clock (seconds since the epoch), injectable for tests.
    Returns (ready files sorted by mtime then name, new state).
    """
    now = time.time() if now is None else now
    old = _checked(state)
    requested: dict[str, list] = dict(old["requested"])
    pending: dict[str, list] = {}
    newest = old["newest_mtime"]

    by_name = {f.name: f for f in files}
    ready: list[RemoteFile] = []
    for f in files:
        if is_temporary(f.name) or (done_marker and f.name.endswith(done_marker)):
            continue
        newest = f.mtime if newest is None else max(newest, f.mtime)
        if requested.get(f.name) == [f.size, f.mtime]:
            continue  # this version was requested before
        if done_marker:
            marker = by_name.get(f.name + done_marker)
            if marker is not None and marker.mtime >= f.mtime:
                ready.append(f)
            continue
        seen = old["pending"].get(f.name)
        if seen is not None and seen[:2] == [f.size, f.mtime]:
            first_seen = seen[2]
        else:
            first_seen = now
        if now - first_seen >= settle_seconds:
            ready.append(f)
        else:
            pending[f.name] = [f.size, f.mtime, first_seen]

    for f in ready:
        requested[f.name] = [f.size, f.mtime]

    if newest is not None:
        horizon = newest - forget_after_seconds
        requested = {n: v for n, v in requested.items() if n in by_name or v[1] >= horizon}

    new_state = {
        "version": STATE_VERSION,
        "requested": requested,
        "pending": pending,
        "newest_mtime": newest,
    }
    return sorted(ready, key=lambda f: (f.mtime, f.name)), new_state


# ---------------------------------------------------------------------------------------------
# partition keys: one dynamic partition per file version


KEY_TIME_FORMAT = "%Y%m%dT%H%M%S"
_UNSAFE = re.compile(r"%|[\x00-\x1f\x7f]|\.{3,}")


def _escape(name: str) -> str:
    """Percent-encode what Dagster refuses in a key ('...', control characters) and '%' itself."""
    return _UNSAFE.sub(lambda m: "".join(f"%{ord(c):02X}" for c in m.group()), name)


def partition_key(source: str, f: RemoteFile) -> str:
    """`<source>/<name>@<UTC mtime %Y%m%dT%H%M%S>`: readable, unique per file version.

    The mtime is truncated to whole seconds (what SFTP reports). Names are escaped reversibly.
    """
    stamp = datetime.fromtimestamp(int(f.mtime // 1), tz=UTC).strftime(KEY_TIME_FORMAT)
    return f"{source}/{_escape(f.name)}@{stamp}"


def parse_partition_key(key: str) -> tuple[str, str, float]:
    """(source, name, mtime in whole seconds) from a key made by `partition_key`."""
    head, sep, stamp = key.rpartition("@")
    source, slash, name = head.partition("/")
    if not sep or not slash or not source or not name:
        raise ValueError(
            f"{key!r} is not a file partition key (<source>/<name>@<YYYYmmddTHHMMSS>)"
        )
    try:
        when = datetime.strptime(stamp, KEY_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{key!r}: {stamp!r} is not a {KEY_TIME_FORMAT} UTC time") from None
    return source, unquote(name), when.timestamp()
