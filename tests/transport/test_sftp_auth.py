"""Logging in to a real sshd: keys, passwords and host-key pinning."""

from __future__ import annotations

import logging
import subprocess
import time

import pytest

from pipelines.transport import TransportAuthError, TransportError, open_transport
from pipelines.transport.sftp import SftpTransport


def openssh_fingerprint(pub: str) -> str:
    """The fingerprint as OpenSSH's own `ssh-keygen -lf` prints it (to compare with ours)."""
    return subprocess.run(
        ["ssh-keygen", "-lf", pub], capture_output=True, text=True, check=True
    ).stdout.split()[1]


def count_in_log(server, text: str) -> int:
    return server.log_file.read_text(errors="replace").count(text)


def wait_for_log(server, text: str, at_least: int, timeout: float = 5) -> int:
    deadline = time.monotonic() + timeout
    while (n := count_in_log(server, text)) < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
    return n


@pytest.mark.parametrize(
    "key", ["ed25519", "ecdsa", "rsa", "ed25519_passphrase", "rsa_pem_passphrase"]
)
def test_key_login_lists_the_folder(sshd, sftp_options, key):
    folder = sshd.new_dir()
    sshd.write(folder / "klanten_20240101.csv", b"KlantID\n1\n")
    with SftpTransport.from_location(sshd.location(folder), sftp_options(sshd, key)) as t:
        assert [f.name for f in t.list(["*.csv"])] == ["klanten_20240101.csv"]


def test_password_login(sshd, sftp_options):
    folder = sshd.new_dir()
    sshd.write(folder / "a.csv", b"x\n")
    with open_transport(sshd.location(folder), sftp_options(sshd, "password")) as t:
        assert isinstance(t, SftpTransport)
        assert [f.name for f in t.list(["*.csv"])] == ["a.csv"]


def test_wrong_password_fails_loudly_and_is_not_retried(sshd, sftp_options, monkeypatch, caplog):
    options = sftp_options(sshd, "password", retries=3, backoff_seconds=1)
    monkeypatch.setenv(options.password_env, "not-the-password")
    before = count_in_log(sshd, f"Failed password for {sshd.user.name}")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TransportAuthError) as err:
        SftpTransport.from_location(sshd.location(), options).connect()
    assert f"{sshd.user.name}@127.0.0.1:{sshd.port}" in str(err.value)
    assert "$CRMCLEAN_TEST_SFTP_PASSWORD" in str(err.value)
    # exactly one attempt reached the server: auth errors are never retried
    assert wait_for_log(sshd, f"Failed password for {sshd.user.name}", before + 1) == before + 1
    time.sleep(0.3)
    assert count_in_log(sshd, f"Failed password for {sshd.user.name}") == before + 1
    assert "not-the-password" not in caplog.text and "not-the-password" not in str(err.value)


def test_password_never_logged(sshd, sftp_options, caplog):
    caplog.set_level(logging.DEBUG)
    with SftpTransport.from_location(sshd.location(), sftp_options(sshd, "password")) as t:
        t.list(["*"])
    assert sshd.password not in caplog.text
    assert f"connected to {sshd.user.name}@127.0.0.1:{sshd.port}" in caplog.text


def test_unauthorized_key_is_refused(sshd, sftp_options):
    with pytest.raises(TransportAuthError, match="authentication failed"):
        SftpTransport.from_location(sshd.location(), sftp_options(sshd, "unauthorized")).connect()


def test_encrypted_key_without_passphrase(sshd, sftp_options, monkeypatch):
    options = sftp_options(sshd, "ed25519_passphrase")
    monkeypatch.delenv(options.key_passphrase_env)
    with pytest.raises(
        TransportAuthError, match=r"is encrypted: set \$CRMCLEAN_TEST_SFTP_KEY_PASSPHRASE"
    ):
        SftpTransport.from_location(sshd.location(), options).connect()


@pytest.mark.parametrize("key", ["ed25519_passphrase", "rsa_pem_passphrase"])
def test_wrong_key_passphrase(sshd, sftp_options, monkeypatch, key):
    options = sftp_options(sshd, key)
    monkeypatch.setenv(options.key_passphrase_env, "wrong passphrase")
    with pytest.raises(TransportAuthError, match="cannot load private key"):
        SftpTransport.from_location(sshd.location(), options).connect()


def test_no_credentials(sshd, sftp_options, monkeypatch):
    options = sftp_options(sshd, "ed25519")
    monkeypatch.delenv(options.key_file_env)
    with pytest.raises(TransportAuthError, match="no credentials"):
        SftpTransport.from_location(sshd.location(), options).connect()


def test_missing_key_file(sshd, sftp_options, monkeypatch, tmp_path):
    options = sftp_options(sshd, "ed25519")
    monkeypatch.setenv(options.key_file_env, str(tmp_path / "nope"))
    with pytest.raises(TransportAuthError, match="does not exist"):
        SftpTransport.from_location(sshd.location(), options).connect()


# -- host keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize("known_hosts_state", ["missing", "empty", "other hosts"])
def test_unknown_host_key_is_refused(sshd, sftp_options, tmp_path, known_hosts_state):
    known = tmp_path / "known_hosts"
    if known_hosts_state == "empty":
        known.write_text("")
    elif known_hosts_state == "other hosts":
        other = sshd.host_key_line.split(" ", 1)[1]
        known.write_text(f"[127.0.0.1]:1 {other}\nexample.com {other}\n")
    options = sftp_options(sshd, "ed25519", known_hosts=str(known), retries=3)
    with pytest.raises(TransportAuthError) as err:
        SftpTransport.from_location(sshd.location(), options).connect()
    message = str(err.value)
    assert "unknown host key" in message
    assert f"[127.0.0.1]:{sshd.port}" in message
    assert openssh_fingerprint(f"{sshd.host_key}.pub") in message
    assert known_hosts_state != "missing" or not known.exists()  # never added silently


def test_changed_host_key_is_refused_even_with_trust_on_first_use(sshd, sftp_options, tmp_path):
    impostor = tmp_path / "impostor"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(impostor)], check=True
    )
    kind, blob = (tmp_path / "impostor.pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {kind} {blob}\n")
    for tofu in (False, True):
        options = sftp_options(sshd, "ed25519", known_hosts=str(known), trust_on_first_use=tofu)
        with pytest.raises(TransportAuthError) as err:
            SftpTransport.from_location(sshd.location(), options).connect()
        message = str(err.value)
        assert "HOST KEY CHANGED" in message and f"[127.0.0.1]:{sshd.port}" in message
        assert openssh_fingerprint(f"{sshd.host_key}.pub") in message
        assert openssh_fingerprint(str(tmp_path / "impostor.pub")) in message
    assert known.read_text() == f"[127.0.0.1]:{sshd.port} {kind} {blob}\n"


def test_host_key_of_another_type_is_refused(sshd, sftp_options, tmp_path):
    other = tmp_path / "rsa"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(other)], check=True
    )
    kind, blob = (tmp_path / "rsa.pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {kind} {blob}\n")
    with pytest.raises(TransportAuthError, match="does not match"):
        SftpTransport.from_location(
            sshd.location(), sftp_options(sshd, known_hosts=str(known))
        ).connect()


def test_trust_on_first_use_adds_the_key_and_warns(sshd, sftp_options, tmp_path, caplog):
    known = tmp_path / "config" / "known_hosts"
    options = sftp_options(sshd, "ed25519", known_hosts=str(known), trust_on_first_use=True)
    with caplog.at_level(logging.WARNING, logger="pipelines.transport.sftp"):
        with SftpTransport.from_location(sshd.location(), options) as t:
            t.list(["*"])
    assert known.read_text() == sshd.host_key_line + "\n"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "trust_on_first_use" in w and openssh_fingerprint(f"{sshd.host_key}.pub") in w
        for w in warnings
    )

    # from now on the key is pinned: strict mode connects, and nothing more is appended
    caplog.clear()
    strict = sftp_options(sshd, "ed25519", known_hosts=str(known))
    with SftpTransport.from_location(sshd.location(), strict) as t:
        t.list(["*"])
    assert known.read_text() == sshd.host_key_line + "\n"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_hashed_known_hosts_entries_work(sshd, sftp_options, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text(sshd.host_key_line + "\n")
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    assert known.read_text().startswith("|1|")
    with SftpTransport.from_location(
        sshd.location(), sftp_options(sshd, known_hosts=str(known))
    ) as t:
        t.list(["*"])


def test_relative_known_hosts_resolves_against_the_current_dir(
    sshd, sftp_options, tmp_path, monkeypatch
):
    (tmp_path / "sftp_config").mkdir()
    (tmp_path / "sftp_config" / "known_hosts").write_text(sshd.host_key_line + "\n")
    monkeypatch.chdir(tmp_path)
    options = sftp_options(sshd, known_hosts="sftp_config/known_hosts")
    t = SftpTransport.from_location(sshd.location(), options)
    assert t.known_hosts == tmp_path / "sftp_config" / "known_hosts"
    with t:
        t.list(["*"])


def test_auth_error_is_a_transport_error_subclass_but_distinct():
    # callers catch TransportAuthError first to fail loudly, TransportError to retry later
    assert issubclass(TransportAuthError, TransportError)


def test_password_in_location_is_rejected(sftp_options, sshd):
    with pytest.raises(ValueError, match="never put a password"):
        SftpTransport.from_location(f"sftp://u:secret@127.0.0.1:{sshd.port}/x", sftp_options(sshd))


@pytest.mark.parametrize("pinned", ["ed25519", "rsa", "ecdsa"])
def test_server_with_several_host_keys_is_checked_against_the_pinned_type(
    sshd_factory, sftp_options, tmp_path, pinned
):
    """The client asks for the key type it knows (an RSA pin must not end in a 'changed key')."""
    extra = {}
    for kind in ("rsa", "ecdsa"):
        extra[kind] = tmp_path / f"ssh_host_{kind}_key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(extra[kind])], check=True
        )
    server = sshd_factory(extra_config=[f"HostKey {p}" for p in extra.values()])
    try:
        pub = (
            server.host_key.with_suffix(".pub")
            if pinned == "ed25519"
            else extra[pinned].with_suffix(".pub")
        )
        kind, blob = pub.read_text().split()[:2]
        known = tmp_path / "known_hosts"
        known.write_text(f"[127.0.0.1]:{server.port} {kind} {blob}\n")
        with SftpTransport.from_location(
            server.location(), sftp_options(server, known_hosts=str(known))
        ) as t:
            t.list(["*"])
            assert t._transport.get_remote_server_key().get_name() == kind
    finally:
        server.stop()
