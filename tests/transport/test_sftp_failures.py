"""A real sshd that dies, hangs or is not there: errors, retries and what is left on disk."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time

import pytest

from pipelines.transport import TransportAuthError, TransportError
from pipelines.transport.sftp import SftpTransport


@pytest.fixture
def server(sshd_factory):
    """A server of its own: these tests kill, freeze and restart it."""
    server = sshd_factory()
    yield server
    server.resume()
    server.stop()


@pytest.fixture(scope="module")
def big_file() -> bytes:
    return os.urandom(96 * 1024 * 1024) + b"end"


# When a connection dies mid-download, paramiko's own prefetch thread (a daemon thread that sends
# the read requests) may die with "Socket is closed"; the download itself raises TransportError.
paramiko_prefetch_thread_dies = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnhandledThreadExceptionWarning"
)


def run_in_thread(fn) -> tuple[threading.Thread, list]:
    outcome: list = []

    def target():
        try:
            outcome.append(fn())
        except BaseException as e:
            outcome.append(e)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def wait_for(condition, timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


@paramiko_prefetch_thread_dies
def test_server_killed_mid_download_leaves_nothing_and_next_fetch_succeeds(
    server, sftp_options, big_file, tmp_path
):
    remote = server.new_dir()
    server.write(remote / "klanten_big.csv", big_file)
    dest = tmp_path / "landing" / "klanten_big.csv"
    part = dest.with_name(dest.name + ".part")
    t = SftpTransport.from_location(server.location(remote), sftp_options(server, retries=0))
    try:
        thread, outcome = run_in_thread(lambda: t.fetch("klanten_big.csv", dest))
        wait_for(lambda: part.exists() and part.stat().st_size > 0, what="the download to start")
        server.stop()  # listener and session processes, SIGKILL
        thread.join(30)
        assert not thread.is_alive()
        [error] = outcome
        assert isinstance(error, TransportError) and not isinstance(error, TransportAuthError)
        assert not dest.exists() and not part.exists()
        assert list(dest.parent.iterdir()) == []

        server.start()
        t.fetch("klanten_big.csv", dest)  # the same transport reconnects
        assert hashlib.sha256(dest.read_bytes()).digest() == hashlib.sha256(big_file).digest()
        assert list(dest.parent.iterdir()) == [dest]
    finally:
        t.close()


@paramiko_prefetch_thread_dies
def test_dropped_connection_mid_download_is_retried(
    server, sftp_options, big_file, tmp_path, caplog
):
    remote = server.new_dir()
    server.write(remote / "big.csv", big_file)
    dest = tmp_path / "big.csv"
    part = tmp_path / "big.csv.part"
    with SftpTransport.from_location(
        server.location(remote), sftp_options(server, retries=2)
    ) as t:
        thread, outcome = run_in_thread(lambda: t.fetch("big.csv", dest))
        wait_for(lambda: part.exists() and part.stat().st_size > 0, what="the download to start")
        server.kill_sessions()  # the server stays up: the retry reconnects and starts over
        thread.join(60)
    assert outcome == [None]
    assert dest.read_bytes() == big_file
    assert any("retry 1 of 2" in r.getMessage() for r in caplog.records)


def test_server_down_then_up_is_retried_with_backoff(server, sftp_options, caplog):
    remote = server.new_dir()
    server.write(remote / "a.csv", b"a")
    server.stop()
    restarter = threading.Timer(1.0, server.start)
    restarter.start()
    options = sftp_options(server, retries=5, backoff_seconds=0.2)  # waits 0.2, 0.4, 0.8, 1.6, ...
    started = time.monotonic()
    try:
        with SftpTransport.from_location(server.location(remote), options) as t:
            assert [f.name for f in t.list(["*.csv"])] == ["a.csv"]
    finally:
        restarter.join()
    assert time.monotonic() - started >= 1.0
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert retries and all("ConnectionRefusedError" in m for m in retries)
    assert "in 0.2s" in retries[0] and (len(retries) < 2 or "in 0.4s" in retries[1])


def test_server_staying_down_raises_transport_error_after_the_retries(server, sftp_options):
    server.stop()
    options = sftp_options(server, retries=2, backoff_seconds=0.2)
    started = time.monotonic()
    with pytest.raises(TransportError) as err:
        SftpTransport.from_location(server.location(), options).list(["*"])
    assert not isinstance(err.value, TransportAuthError)
    assert "after 3 attempt(s)" in str(err.value) and "ConnectionRefusedError" in str(err.value)
    assert time.monotonic() - started >= 0.6  # 0.2 + 0.4 of backoff


def test_connect_timeout_when_the_server_never_answers(sftp_options, sshd):
    """A port that accepts connections but never sends an SSH banner."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        options = sftp_options(sshd, connect_timeout_seconds=0.5, retries=1, backoff_seconds=0.1)
        started = time.monotonic()
        with pytest.raises(TransportError, match="after 2 attempt"):
            SftpTransport.from_location(f"sftp://x@127.0.0.1:{port}/", options).connect()
        assert time.monotonic() - started < 5


@paramiko_prefetch_thread_dies
def test_read_timeout_when_the_server_hangs_mid_download(server, sftp_options, big_file, tmp_path):
    remote = server.new_dir()
    server.write(remote / "big.csv", big_file)
    dest = tmp_path / "big.csv"
    part = tmp_path / "big.csv.part"
    options = sftp_options(server, read_timeout_seconds=1, connect_timeout_seconds=1, retries=0)
    with SftpTransport.from_location(server.location(remote), options) as t:
        thread, outcome = run_in_thread(lambda: t.fetch("big.csv", dest))
        wait_for(lambda: part.exists() and part.stat().st_size > 0, what="the download to start")
        server.pause()
        started = time.monotonic()
        thread.join(30)
        waited = time.monotonic() - started
        server.resume()
        [error] = outcome
        assert isinstance(error, TransportError), error
        assert 0.5 <= waited < 15
        assert not dest.exists() and not part.exists()
        t.fetch("big.csv", dest)  # the server is back: a new connection
    assert dest.read_bytes() == big_file


def test_auth_failure_is_not_retried(server, sftp_options, monkeypatch):
    options = sftp_options(server, "unauthorized", retries=4, backoff_seconds=1)
    started = time.monotonic()
    with pytest.raises(TransportAuthError):
        SftpTransport.from_location(server.location(), options).connect()
    assert time.monotonic() - started < 1  # no backoff sleep happened
    time.sleep(0.2)
    log = server.log_file.read_text(errors="replace")
    assert log.count(f"Failed publickey for {server.user.name}") == 1


def test_host_key_failure_is_not_retried(server, sftp_options, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    options = sftp_options(
        server, known_hosts=str(tmp_path / "empty"), retries=4, backoff_seconds=1
    )
    started = time.monotonic()
    with pytest.raises(TransportAuthError, match="unknown host key"):
        SftpTransport.from_location(server.location(), options).list(["*"])
    assert time.monotonic() - started < 1
    assert not [r for r in caplog.records if "retry" in r.getMessage()]
