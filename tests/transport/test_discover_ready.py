"""Which files are ready, and the cursor that takes each file version exactly once."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from pipelines.ingest.discover import (
    discover,
    dump_state,
    empty_state,
    listing_patterns,
    load_state,
    parse_partition_key,
    partition_key,
)
from pipelines.transport import RemoteFile
from pipelines.transport.sftp import SftpTransport

T0 = 1_714_550_400.0  # 2024-05-01T08:00:00Z


def f(name: str, size: int = 100, mtime: float = T0) -> RemoteFile:
    return RemoteFile(name=name, size=size, mtime=mtime)


def names(files: list[RemoteFile]) -> list[str]:
    return [x.name for x in files]


def poll(listing, state, now, **kw):
    """One sensor tick, with the state going through JSON like a Dagster cursor does."""
    ready, state = discover(listing, load_state(dump_state(state)), now=now, **kw)
    return ready, load_state(dump_state(state))


def test_settle_zero_takes_files_at_once_and_only_once():
    listing = [f("b.csv", mtime=T0 + 1), f("a.csv")]
    ready, state = poll(listing, empty_state(), now=T0 + 10, settle_seconds=0)
    assert names(ready) == ["a.csv", "b.csv"]  # oldest first
    again, state = poll(listing, state, now=T0 + 20, settle_seconds=0)
    assert again == []


def test_a_file_is_ready_only_after_size_and_mtime_are_stable_for_the_settle_time():
    state = empty_state()
    ready, state = poll([f("x.csv", 100, T0)], state, now=1000, settle_seconds=30)
    assert ready == []  # first sighting
    ready, state = poll([f("x.csv", 200, T0 + 5)], state, now=1020, settle_seconds=30)
    assert ready == []  # grew: the clock starts again
    ready, state = poll([f("x.csv", 200, T0 + 5)], state, now=1049, settle_seconds=30)
    assert ready == []  # 29 s stable
    ready, state = poll([f("x.csv", 200, T0 + 5)], state, now=1050, settle_seconds=30)
    assert ready == [f("x.csv", 200, T0 + 5)]
    ready, state = poll([f("x.csv", 200, T0 + 5)], state, now=2000, settle_seconds=30)
    assert ready == []
    assert state["pending"] == {}


def test_temporary_names_are_never_ready():
    listing = [
        f(".x.csv"),
        f("x.csv.part"),
        f("x.csv.filepart"),
        f("x.tmp"),
        f("sub/.hidden.csv"),
        f("ok.csv"),
    ]
    ready, state = poll(listing, empty_state(), now=T0, settle_seconds=0)
    assert names(ready) == ["ok.csv"]
    assert list(state["requested"]) == ["ok.csv"]


def test_an_upload_with_an_older_mtime_is_still_taken():
    ready, state = poll([f("new.csv", mtime=T0)], empty_state(), now=T0 + 100, settle_seconds=0)
    assert names(ready) == ["new.csv"]
    # a copy that kept its timestamp from last week arrives later
    old = f("from_last_week.csv", mtime=T0 - 7 * 86400 + 60)
    ready, state = poll([f("new.csv", mtime=T0), old], state, now=T0 + 200, settle_seconds=0)
    assert ready == [old]


def test_a_rewritten_file_is_a_new_version():
    ready, state = poll([f("daily.csv", 100, T0)], empty_state(), now=T0, settle_seconds=0)
    assert len(ready) == 1
    ready, state = poll([f("daily.csv", 100, T0)], state, now=T0 + 86400, settle_seconds=0)
    assert ready == []
    ready, state = poll([f("daily.csv", 120, T0 + 86400)], state, now=T0 + 86400, settle_seconds=0)
    assert ready == [f("daily.csv", 120, T0 + 86400)]


def test_done_marker_convention():
    kw = dict(settle_seconds=3600, done_marker=".done")
    ready, state = poll([f("x.csv", mtime=T0)], empty_state(), now=T0, **kw)
    assert ready == []  # no marker yet (settle time does not apply with markers)
    listing = [f("x.csv", mtime=T0), f("x.csv.done", 0, T0 + 1)]
    ready, state = poll(listing, state, now=T0 + 1, **kw)
    assert names(ready) == ["x.csv"]  # the marker itself is never a drop
    ready, state = poll(listing, state, now=T0 + 2, **kw)
    assert ready == []
    # the producer rewrites x.csv but the marker is still the old one: wait for a new marker
    listing = [f("x.csv", 300, T0 + 100), f("x.csv.done", 0, T0 + 1)]
    ready, state = poll(listing, state, now=T0 + 101, **kw)
    assert ready == []
    listing = [f("x.csv", 300, T0 + 100), f("x.csv.done", 0, T0 + 100)]
    ready, state = poll(listing, state, now=T0 + 102, **kw)
    assert ready == [f("x.csv", 300, T0 + 100)]


def test_listing_patterns_include_markers():
    assert listing_patterns(["*.csv"], ".ok") == ["*.csv", "*.csv.ok"]
    assert listing_patterns(["*.csv"], None) == ["*.csv"]


def test_state_stays_bounded_but_keeps_what_is_still_listed():
    day = 86400
    state = empty_state()
    stays = f("stays_on_server.csv", mtime=T0)
    for i in range(60):  # one drop a day for 60 days; each is moved away after loading
        drop = f(f"drop_{i:03d}.csv", mtime=T0 + i * day)
        ready, state = poll([stays, drop], state, now=T0 + i * day + 60, settle_seconds=0)
        assert ready == ([drop, stays] if i == 0 else [drop])  # same mtime: by name
    assert "stays_on_server.csv" in state["requested"]  # needed: it is still listed
    assert len(state["requested"]) <= 1 + 8  # the last week of drops that are gone, plus that one
    assert len(dump_state(state)) < 2000
    # and the file that stays is still never taken again
    ready, state = poll([stays], state, now=T0 + 61 * day, settle_seconds=0)
    assert ready == []


def test_pending_entries_of_vanished_files_are_dropped():
    ready, state = poll([f("a.csv.tmp"), f("a.csv")], empty_state(), now=T0, settle_seconds=30)
    assert list(state["pending"]) == ["a.csv"]
    ready, state = poll([], state, now=T0 + 10, settle_seconds=30)
    assert state["pending"] == {}


def test_state_is_json_and_the_input_is_not_changed():
    state = empty_state()
    snapshot = json.dumps(state)
    ready, new_state = discover([f("a.csv")], state, settle_seconds=0, now=T0)
    assert json.dumps(state) == snapshot
    assert json.loads(dump_state(new_state)) == new_state
    assert load_state(None) == load_state("") == empty_state()
    with pytest.raises(ValueError, match="version"):
        load_state('{"version": 99}')


# -- partition keys ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "klanten_20240501.csv",
        "2024/05/klanten Västerås 1.csv",
        "wait...what.csv",
        "a....b.csv",
        "50%_korting.csv",
        "tab\tand\nnewline.csv",
        "mail@example_drop.csv",
        "a..b.csv",
    ],
)
def test_partition_keys_round_trip_and_are_valid_for_dagster(name):
    from dagster._core.definitions.partitions.utils.base import (
        raise_error_on_invalid_partition_key_substring,
    )

    mtime = T0 + 59.9
    key = partition_key("crm", f(name, mtime=mtime))
    raise_error_on_invalid_partition_key_substring([key])
    assert key.startswith("crm/") and key.endswith("@20240501T080059")
    assert parse_partition_key(key) == ("crm", name, T0 + 59)


def test_partition_key_is_readable_for_plain_names():
    key = partition_key("webshop", f("customers_20240501.csv", mtime=T0))
    assert key == "webshop/customers_20240501.csv@20240501T080000"
    stamp = datetime(2024, 5, 1, 8, 0, tzinfo=UTC).timestamp()
    assert parse_partition_key(key) == ("webshop", "customers_20240501.csv", stamp)


@pytest.mark.parametrize(
    "key", ["crm", "crm/x.csv", "crm/x.csv@yesterday", "/x.csv@20240501T080000"]
)
def test_parse_partition_key_rejects_other_keys(key):
    with pytest.raises(ValueError):
        parse_partition_key(key)


# -- against a real sshd -----------------------------------------------------------------------


def test_a_file_uploaded_in_two_halves_is_taken_only_when_complete(sshd, sftp_options, tmp_path):
    """The producer writes half a file, pauses, writes the rest; the sensor polls meanwhile."""
    remote = sshd.new_dir()
    rows = "".join(f"{i};Åsa;Jönsson;Västerås\r\n" for i in range(20000)).encode("cp1252")
    first, second = rows[: len(rows) // 2], rows[len(rows) // 2 :]
    settle = 30
    state = empty_state()
    taken: list[RemoteFile] = []

    with SftpTransport.from_location(sshd.location(remote), sftp_options(sshd)) as t:

        def tick(now):
            nonlocal state
            ready, state = poll(t.list(["*.csv"]), state, now=now, settle_seconds=settle)
            for x in ready:
                t.fetch(x.name, tmp_path / x.name)
            taken.extend(ready)
            return ready

        sshd.write(remote / "klanten_1.csv", first, mtime=T0)
        assert tick(1000) == []
        assert tick(1020) == []
        sshd.write(
            remote / "klanten_1.csv", second, mtime=T0 + 25, append=True
        )  # size and mtime change
        assert tick(1040) == []  # 20 s after the first sighting, but the file changed
        assert tick(1060) == []  # stable for 20 s only
        assert names(tick(1070)) == ["klanten_1.csv"]  # stable for 30 s
        assert tick(1100) == [] and tick(5000) == []  # never twice

    assert len(taken) == 1 and taken[0].size == len(rows)
    landed = (tmp_path / "klanten_1.csv").read_bytes()
    assert hashlib.sha256(landed).digest() == hashlib.sha256(rows).digest()


def test_an_upload_in_progress_under_a_temporary_name_is_invisible(sshd, sftp_options, tmp_path):
    remote = sshd.new_dir()
    sshd.write(remote / ".klanten_2.csv.part", b"half", mtime=T0)
    sshd.write(remote / "klanten_2.csv.filepart", b"half", mtime=T0)
    with SftpTransport.from_location(sshd.location(remote), sftp_options(sshd)) as t:
        ready, state = poll(t.list(["*"]), empty_state(), now=T0, settle_seconds=0)
        assert ready == []
        (remote / ".klanten_2.csv.part").rename(
            remote / "klanten_2.csv"
        )  # the uploader's final rename
        ready, state = poll(t.list(["*"]), state, now=T0 + 1, settle_seconds=0)
        assert names(ready) == ["klanten_2.csv"]
