"""Listing, downloading, uploading and moving files on a real sshd."""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
import time

import pytest

from pipelines.transport import TransportError
from pipelines.transport.sftp import SftpTransport

CP1252_TEXT = (
    "KlantID;Voornaam;Tussenvoegsel;Achternaam;Plaats\r\n"
    "1;Zoë;van 't;Hoff;'s-Hertogenbosch\r\n"
    "2;Anaïs;de;Bruïne;Hoogezand-Sappemeer\r\n"
    "3;Åsa;;Jönsson;Västerås\r\n"
    "4;Björn;;Ångström;Örebro\r\n"
    "5;Renée;van der;Molen;Café “De Kroon” € 5\r\n"
)
UTF8_TEXT = (
    "customer_id,first_name,last_name,city\n"
    "w1,Zoë,IJsselstein-Ĳzerman,Utrecht\n"
    "w2,Åsa,Jönsson,Västerås\n"
    "w3,Sjöström,Ærø,Malmö\n"
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def remote(sshd):
    return sshd.new_dir()


@pytest.fixture
def transport(sshd, sftp_options, remote):
    with SftpTransport.from_location(sshd.location(remote), sftp_options(sshd)) as t:
        yield t


def test_list_patterns_subfolders_and_temporary_names(sshd, remote, transport):
    t0 = 1_700_000_000
    files = {
        "klanten_1.csv": t0 + 30,
        "klanten_2.txt": t0 + 20,
        "klanten_3.csv.gz": t0 + 10,
        "2024/05/klanten_4.csv": t0 + 40,
        "notes.md": t0,
        ".klanten_5.csv": t0,  # hidden: upload in progress
        "klanten_6.csv.part": t0,
        "klanten_7.csv.filepart": t0,
        "klanten_8.csv.tmp": t0,
        "processed/klanten_0.csv": t0,  # already handled
        ".cache/klanten_9.csv": t0,  # hidden folder
    }
    for name, mtime in files.items():
        sshd.write(remote / name, b"x" * len(name), mtime)
    listed = transport.list(["klanten_*.csv", "klanten_*.txt", "*.gz"])
    assert [(f.name, f.size, f.mtime) for f in listed] == [
        ("klanten_3.csv.gz", 16, t0 + 10),
        ("klanten_2.txt", 13, t0 + 20),
        ("klanten_1.csv", 13, t0 + 30),
        ("2024/05/klanten_4.csv", 21, t0 + 40),
    ]
    # a pattern with a '/' matches the path: only that folder
    assert [f.name for f in transport.list(["2024/*/*.csv"])] == ["2024/05/klanten_4.csv"]
    assert transport.list(["*.xlsx"]) == []


def test_list_follows_symlinked_files_not_folders(sshd, remote, transport):
    sshd.write(remote / "real.csv", b"abc")
    os.symlink(remote / "real.csv", remote / "link.csv")
    os.symlink(remote / "missing.csv", remote / "dangling.csv")
    (remote / "sub").mkdir()
    sshd.write(remote / "sub" / "in_sub.csv", b"1")
    os.symlink(remote, remote / "sub" / "loop")
    assert sorted(f.name for f in transport.list(["*.csv"])) == [
        "link.csv",
        "real.csv",
        "sub/in_sub.csv",
    ]


@pytest.mark.parametrize(
    "name, data",
    [
        ("klanten_Västerås_20240501.csv", CP1252_TEXT.encode("cp1252")),
        ("customers_Zoë_ĲJssel.csv", b"\xef\xbb\xbf" + UTF8_TEXT.encode("utf-8")),
        ("klanten_20240501.csv.gz", gzip.compress(CP1252_TEXT.encode("cp1252") * 1000, mtime=0)),
    ],
)
def test_fetch_is_byte_exact(sshd, remote, transport, tmp_path, name, data):
    sshd.write(remote / name, data)
    [listed] = transport.list(["*.csv", "*.gz"])
    assert listed.name == name and listed.size == len(data)
    dest = tmp_path / "landing" / "crm" / "2024-05-01" / name
    transport.fetch(name, dest)
    assert sha256(dest.read_bytes()) == sha256(data)
    assert sorted(p.name for p in dest.parent.iterdir()) == [name]  # no .part left


def test_fetch_missing_file_raises_and_leaves_nothing(transport, tmp_path):
    with pytest.raises(TransportError, match="nope.csv"):
        transport.fetch("nope.csv", tmp_path / "nope.csv")
    assert list(tmp_path.iterdir()) == []


def test_fetch_rejects_names_outside_the_root(transport, tmp_path):
    with pytest.raises(ValueError):
        transport.fetch("../etc/passwd", tmp_path / "x")
    with pytest.raises(ValueError):
        transport.fetch("/etc/passwd", tmp_path / "x")


def test_put_is_visible_only_when_complete(sshd, sftp_options, remote, transport, tmp_path):
    src = tmp_path / "segment.csv"
    data = os.urandom(48 * 1024 * 1024)
    src.write_bytes(data)
    final = remote / "out" / "segment.csv"
    seen_sizes: set[int] = set()
    seen_temporary = False
    listed_names: set[str] = set()
    done = threading.Event()
    errors: list[BaseException] = []

    def upload():
        try:
            transport.put(src, "out/segment.csv")
        except BaseException as e:
            errors.append(e)
        finally:
            done.set()

    with SftpTransport.from_location(sshd.location(remote), sftp_options(sshd)) as watcher:
        thread = threading.Thread(target=upload)
        thread.start()
        while not done.is_set():
            if final.exists():
                seen_sizes.add(final.stat().st_size)
            if (remote / "out" / ".segment.csv.part").exists():
                seen_temporary = True
                listed_names.update(f.name for f in watcher.list(["*"]))
            time.sleep(0.002)
        thread.join()
    assert not errors
    assert seen_temporary, "the upload should go through a temporary name"
    assert seen_sizes <= {len(data)}  # the final name never showed a partial file
    assert listed_names <= {"out/segment.csv"}  # list() never offers the temporary name
    assert sha256(final.read_bytes()) == sha256(data)
    assert sorted(p.name for p in final.parent.iterdir()) == ["segment.csv"]


def test_put_replaces_an_existing_file(sshd, remote, transport, tmp_path):
    sshd.write(remote / "daily.csv", b"old content, longer than the new one\n")
    src = tmp_path / "daily.csv"
    src.write_bytes(b"new\n")
    transport.put(src, "daily.csv")
    assert (remote / "daily.csv").read_bytes() == b"new\n"


def test_move_to_processed_creates_folders(sshd, remote, transport):
    sshd.write(remote / "klanten_1.csv", b"1")
    transport.move("klanten_1.csv", "processed/2024-05-01/klanten_1.csv")
    assert (remote / "processed" / "2024-05-01" / "klanten_1.csv").read_bytes() == b"1"
    assert not transport.exists("klanten_1.csv")
    assert transport.exists("processed/2024-05-01/klanten_1.csv")
    assert transport.list(["*.csv"]) == []  # processed/ is never listed


def test_one_connection_is_reused(sshd, sftp_options, remote, tmp_path):
    accepted = f"Accepted publickey for {sshd.user.name}"
    before = sshd.log_file.read_text().count(accepted)
    sshd.write(remote / "a.csv", b"a")
    sshd.write(remote / "b.csv", b"b")
    with SftpTransport.from_location(sshd.location(remote), sftp_options(sshd)) as t:
        for f in t.list(["*.csv"]):
            t.fetch(f.name, tmp_path / f.name)
        t.put(tmp_path / "a.csv", "copy/a.csv")
        t.move("copy/a.csv", "processed/a.csv")
        assert t.exists("processed/a.csv")
    assert sshd.log_file.read_text().count(accepted) == before + 1
