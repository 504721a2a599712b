"""An SFTP server as a transport, through paramiko, with the checks the usual tools skip.

- The server's host key is checked against a known_hosts file. An unknown or changed key is
  refused with a `TransportAuthError` naming the host and the key's SHA256 fingerprint; a new
  key is only added when the source opts in to trust-on-first-use, and then a warning is logged.
- Secrets come from environment variables named in `SftpOptions` (password, key file, key
  passphrase) and are read at connect time; they are never logged (only `user@host:port` is).
- One SSH connection per transport object, opened lazily and reused for listing, downloads and
  uploads. Transient failures (refused, reset, timeout, EOF) drop the connection and the call is
  retried with exponential backoff; authentication and host-key errors are raised at once.
- Downloads go to `<dest>.part`, are checked against the server's size, fsynced and renamed;
  uploads go to `.<name>.part` on the server and are renamed when complete.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import logging
import os
import posixpath
import socket
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import paramiko

from pipelines.config import SftpOptions
from pipelines.transport.base import (
    RemoteFile,
    TransportAuthError,
    TransportError,
    is_temporary,
    matches,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

READ_BLOCK = 1 << 20  # bytes handed over per read while downloading
WINDOW = 16 << 20  # bytes requested ahead (as 32 KiB SFTP reads): fast, and bounded memory

# known_hosts names an RSA key `ssh-rsa`; servers sign with SHA-2 (OpenSSH >= 8.8 refuses SHA-1).
HOST_KEY_ALGORITHMS = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}


def fingerprint(key: paramiko.PKey) -> str:
    """The OpenSSH style fingerprint (`SHA256:...`) that `ssh-keygen -lf` prints."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def parse_location(location: str) -> tuple[str, str, int, str]:
    """`sftp://user@host:port/path` -> (user, host, port, path). A path `/~/x` is relative to
    home."""
    parts = urlsplit(location)
    if parts.scheme != "sftp":
        raise ValueError(f"{location!r}: not an sftp:// location")
    if parts.password is not None:
        raise ValueError(
            f"{location!r}: never put a password in the location; name an environment variable "
            "in sftp.password_env instead"
        )
    if not parts.username or not parts.hostname:
        raise ValueError(f"{location!r}: expected sftp://user@host[:port]/path")
    try:
        port = parts.port or 22
    except ValueError:
        raise ValueError(f"{location!r}: invalid port") from None
    path = unquote(parts.path) or "."
    if path == "/~" or path.startswith("/~/"):
        path = path[3:] or "."
    return unquote(parts.username), parts.hostname, port, path


def resolve_known_hosts(known_hosts: str, config_dir: Path | None = None) -> Path:
    """Where the known_hosts file is: absolute as given, relative to the current directory.

    When a relative path does not exist there but a file of that name sits in `config_dir`
    (a config folder moved with CRMCLEAN_CONFIG_DIR), that one is used.
    """
    path = Path(known_hosts).expanduser()
    if path.is_absolute():
        return path
    here = Path.cwd() / path
    if not here.exists() and config_dir is not None and (Path(config_dir) / path.name).exists():
        return Path(config_dir) / path.name
    return here


class SftpTransport:
    """Files under one folder of an SFTP server (see the module docstring for the guarantees)."""

    def __init__(
        self,
        *,
        user: str,
        host: str,
        port: int = 22,
        root: str = ".",
        options: SftpOptions | None = None,
        known_hosts: Path | None = None,
    ):
        self.user = user
        self.host = host
        self.port = port
        self.root = root.rstrip("/") or "/"
        self.options = options or SftpOptions()
        self.known_hosts = known_hosts or resolve_known_hosts(self.options.known_hosts)
        self._transport: paramiko.Transport | None = None
        self._sftp: paramiko.SFTPClient | None = None

    @classmethod
    def from_location(
        cls, location: str, options: SftpOptions | None = None, *, config_dir: Path | None = None
    ) -> SftpTransport:
        user, host, port, path = parse_location(location)
        options = options or SftpOptions()
        return cls(
            user=user,
            host=host,
            port=port,
            root=path,
            options=options,
            known_hosts=resolve_known_hosts(options.known_hosts, config_dir),
        )

    # -- naming ------------------------------------------------------------------------------

    @property
    def where(self) -> str:
        """`user@host:port` for messages and logs (never a secret)."""
        return f"{self.user}@{self.host}:{self.port}"

    @property
    def host_key_name(self) -> str:
        """How known_hosts names this server: `host`, or `[host]:port` off port 22."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    def _remote(self, name: str) -> str:
        if not name or name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"{name!r}: a remote name must be relative to the root, without '..'")
        return posixpath.join(self.root, name)

    def __repr__(self) -> str:
        return f"SftpTransport({self.where}{'' if self.root.startswith('/') else '/'}{self.root})"

    # -- connection --------------------------------------------------------------------------

    def __enter__(self) -> SftpTransport:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        sftp, transport = self._sftp, self._transport
        self._sftp = self._transport = None
        for thing in (sftp, transport):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # closing a dead connection may raise; nothing to save
                    pass

    def connect(self) -> None:
        """Open the connection now (it is otherwise opened by the first call), with retries."""
        self._run("connect", lambda sftp: None)

    def _client(self) -> paramiko.SFTPClient:
        if self._sftp is not None and self._transport is not None and self._transport.is_active():
            return self._sftp
        self.close()
        self._open()
        assert self._sftp is not None
        return self._sftp

    def _open(self) -> None:
        timeout = self.options.connect_timeout_seconds
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            transport = paramiko.Transport(sock)
        except BaseException:
            sock.close()
            raise
        try:
            transport.banner_timeout = timeout
            transport.handshake_timeout = timeout
            transport.auth_timeout = timeout
            host_keys = self._load_host_keys()
            known = host_keys.lookup(self.host_key_name) if host_keys is not None else None
            if known:
                # Ask for the key type we already know, so that a server with several host
                # keys is checked against the pinned one (what OpenSSH does too).
                security = transport.get_security_options()
                wanted = [a for k in known.keys() for a in HOST_KEY_ALGORITHMS.get(k, (k,))]
                pinned = [a for a in security.key_types if a in wanted]
                security.key_types = pinned + [t for t in security.key_types if t not in pinned]
            transport.start_client(timeout=timeout)
            self._check_host_key(transport.get_remote_server_key(), host_keys)
            self._authenticate(transport)
            sftp = paramiko.SFTPClient.from_transport(transport)
            if sftp is None:
                raise paramiko.SSHException("the server refused to open the sftp subsystem")
            sftp.get_channel().settimeout(self.options.read_timeout_seconds)
        except BaseException:
            transport.close()
            sock.close()
            raise
        self._transport, self._sftp = transport, sftp
        log.info("sftp: connected to %s", self.where)

    # -- host key ----------------------------------------------------------------------------

    def _load_host_keys(self) -> paramiko.HostKeys | None:
        if not self.known_hosts.exists():
            return None
        try:
            return paramiko.HostKeys(str(self.known_hosts))
        except (OSError, paramiko.SSHException, ValueError) as e:
            raise TransportAuthError(f"{self.known_hosts}: cannot read known_hosts: {e}") from None

    def _check_host_key(self, key: paramiko.PKey, host_keys: paramiko.HostKeys | None) -> None:
        name, kind, fp = self.host_key_name, key.get_name(), fingerprint(key)
        known = host_keys.lookup(name) if host_keys is not None else None
        if known and kind in known:
            if known[kind] == key:
                return
            raise TransportAuthError(
                f"HOST KEY CHANGED for {name}: the server presented {kind} {fp}, but "
                f"{self.known_hosts} pins {kind} {fingerprint(known[kind])}. Refusing to connect: "
                "this may be an attack, or the server was reinstalled; check with its "
                "administrator before replacing the line."
            )
        if known:
            pinned = ", ".join(f"{k} {fingerprint(v)}" for k, v in known.items())
            raise TransportAuthError(
                f"host key for {name} does not match {self.known_hosts}: the server presented "
                f"{kind} {fp}, known are {pinned}. Refusing to connect; check with the server's "
                "administrator."
            )
        if not self.options.trust_on_first_use:
            where = "is not in" if host_keys is not None else "cannot be checked: there is no"
            raise TransportAuthError(
                f"unknown host key for {name}: {kind} {fp} {where} {self.known_hosts}. Check the "
                f"fingerprint with the server's administrator, then add it (for example "
                f"`ssh-keyscan -p {self.port} {self.host} >> {self.known_hosts}`), or set "
                "sftp.trust_on_first_use: true for this source."
            )
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        with open(self.known_hosts, "a+", encoding="utf-8") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() > 0:
                f.seek(f.tell() - 1)
                if f.read(1) != "\n":
                    f.write("\n")
            f.write(f"{name} {kind} {key.get_base64()}\n")
        log.warning(
            "sftp: trust_on_first_use: accepted the unknown host key of %s (%s %s) "
            "and added it to %s",
            name,
            kind,
            fp,
            self.known_hosts,
        )

    # -- authentication ----------------------------------------------------------------------

    def _secret(self, env_name: str | None) -> str | None:
        """The value of a secret's environment variable, read now (None when unset or empty)."""
        if not env_name:
            return None
        return os.environ.get(env_name) or None

    def _authenticate(self, transport: paramiko.Transport) -> None:
        o = self.options
        key_file = self._secret(o.key_file_env)
        password = self._secret(o.password_env)
        if not key_file and not password:
            names = (
                " or ".join(f"${n}" for n in (o.key_file_env, o.password_env) if n)
                or "(none configured)"
            )
            raise TransportAuthError(f"no credentials for {self.where}: set {names}")
        failures = []
        if key_file:
            pkey = self._load_key(Path(key_file).expanduser())
            try:
                remaining = transport.auth_publickey(self.user, pkey)
            except paramiko.AuthenticationException as e:
                failures.append(f"key {key_file} (${o.key_file_env}) refused: {e}")
            else:
                if transport.is_authenticated():
                    return
                if not password or "password" not in remaining:
                    raise TransportAuthError(
                        f"{self.where} accepted the key but also requires: {', '.join(remaining)}"
                    )
        if password:
            try:
                transport.auth_password(self.user, password)
            except paramiko.BadAuthenticationType as e:
                failures.append(
                    f"password login is not allowed (server allows: {', '.join(e.allowed_types)})"
                )
            except paramiko.AuthenticationException as e:
                failures.append(f"password from ${o.password_env} refused: {e}")
            if transport.is_authenticated():
                return
        raise TransportAuthError(f"authentication failed for {self.where}: " + "; ".join(failures))

    def _load_key(self, path: Path) -> paramiko.PKey:
        passphrase = self._secret(self.options.key_passphrase_env)
        env = self.options.key_file_env
        try:
            return paramiko.PKey.from_path(path, passphrase.encode() if passphrase else None)
        except FileNotFoundError:
            raise TransportAuthError(f"private key {path} (${env}) does not exist") from None
        except (
            paramiko.SSHException,
            paramiko.UnknownKeyType,
            ValueError,
            TypeError,
            OSError,
        ) as e:
            # paramiko raises PasswordRequiredException, or passes on cryptography's TypeError
            # ("Key is password-protected, but password was not provided.")
            if not passphrase and (
                isinstance(e, paramiko.PasswordRequiredException) or "password" in str(e).lower()
            ):
                raise TransportAuthError(
                    f"private key {path} (${env}) is encrypted: set "
                    f"${self.options.key_passphrase_env}"
                ) from None
            hint = " (wrong passphrase?)" if passphrase else ""
            raise TransportAuthError(
                f"cannot load private key {path} (${env}){hint}: {e}"
            ) from None

    # -- retries -----------------------------------------------------------------------------

    def _is_transient(self, e: BaseException) -> bool:
        if isinstance(e, paramiko.AuthenticationException):
            return False
        if isinstance(
            e,
            (
                EOFError,
                TimeoutError,
                socket.timeout,
                ConnectionError,
                socket.gaierror,
                paramiko.SSHException,
            ),
        ):
            return True
        lost = self._transport is None or not self._transport.is_active()
        if isinstance(e, OSError) and e.errno in (
            errno.ENETUNREACH,
            errno.EHOSTUNREACH,
            errno.ENETDOWN,
        ):
            return True
        # An SFTP status error (no such file, permission denied) on a live connection is not
        # transient; any error after the connection died is.
        return (
            lost
            and isinstance(e, OSError)
            and not isinstance(e, (FileNotFoundError, PermissionError))
        )

    def _run(self, what: str, op: Callable[[paramiko.SFTPClient], T]) -> T:
        """Run `op` on a live connection; reconnect and retry with backoff on transient errors."""
        attempts = self.options.retries + 1
        for attempt in range(attempts):
            try:
                return op(self._client())
            except TransportError:
                raise
            except paramiko.AuthenticationException as e:
                self.close()
                raise TransportAuthError(f"authentication failed for {self.where}: {e}") from None
            except Exception as e:
                transient = self._is_transient(e)
                if not transient:
                    raise TransportError(f"{what} on {self.where}: {_describe(e)}") from e
                self.close()
                if attempt + 1 >= attempts:
                    raise TransportError(
                        f"{what} on {self.where} failed after {attempts} attempt(s): "
                        f"{_describe(e)}"
                    ) from e
                delay = self.options.backoff_seconds * 2**attempt
                log.warning(
                    "sftp: %s on %s failed (%s); retry %d of %d in %.1fs",
                    what,
                    self.where,
                    _describe(e),
                    attempt + 1,
                    attempts - 1,
                    delay,
                )
                time.sleep(delay)
        raise AssertionError("unreachable")

    # -- the Transport interface -------------------------------------------------------------

    def list(self, patterns: list[str]) -> list[RemoteFile]:
        """Matching files under the root and its sub folders; temporary names, hidden folders and
        the top-level `processed/` folder are skipped. Sorted by (mtime, name)."""

        def walk(sftp: paramiko.SFTPClient) -> list[RemoteFile]:
            out: list[RemoteFile] = []
            pending = [""]
            while pending:
                folder = pending.pop()
                for entry in sftp.listdir_attr(self._remote(folder) if folder else self.root):
                    base = entry.filename
                    if base in (".", ".."):
                        continue
                    rel = f"{folder}/{base}" if folder else base
                    mode = entry.st_mode or 0
                    if stat.S_ISLNK(mode):
                        try:
                            entry = sftp.stat(self._remote(rel))
                        except FileNotFoundError:
                            continue  # dangling link
                        if not stat.S_ISREG(entry.st_mode or 0):
                            continue  # no symlinked folders: they can loop
                        mode = entry.st_mode or 0
                    if stat.S_ISDIR(mode):
                        if not base.startswith(".") and rel != "processed":
                            pending.append(rel)
                    elif stat.S_ISREG(mode) and not is_temporary(rel) and matches(rel, patterns):
                        out.append(
                            RemoteFile(
                                name=rel,
                                size=int(entry.st_size or 0),
                                mtime=float(entry.st_mtime or 0),
                            )
                        )
            return sorted(out, key=lambda f: (f.mtime, f.name))

        return self._run("list", walk)

    def stat(self, name: str) -> RemoteFile:
        attrs = self._run(f"stat {name}", lambda sftp: sftp.stat(self._remote(name)))
        return RemoteFile(
            name=name, size=int(attrs.st_size or 0), mtime=float(attrs.st_mtime or 0)
        )

    def exists(self, name: str) -> bool:
        def check(sftp: paramiko.SFTPClient) -> bool:
            try:
                sftp.stat(self._remote(name))
                return True
            except FileNotFoundError:
                return False

        return self._run(f"exists {name}", check)

    def fetch(self, name: str, dest: Path) -> None:
        """Download to `<dest>.part`, check the size against the server's, fsync, rename to `dest`.

        On any failure the partial file is deleted and `TransportError` is raised.
        """
        dest = Path(dest)
        part = dest.with_name(dest.name + ".part")
        remote = self._remote(name)

        def download(sftp: paramiko.SFTPClient) -> None:
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                with sftp.open(remote, "rb") as fr:
                    expected = int(fr.stat().st_size or 0)
                    got = 0
                    with open(part, "wb") as fw:
                        got += _copy_pipelined(fr, fw, expected)
                        while chunk := fr.read(READ_BLOCK):  # past the stat size: still growing
                            fw.write(chunk)
                            got += len(chunk)
                        fw.flush()
                        os.fsync(fw.fileno())
                if got != expected:
                    raise TransportError(
                        f"fetch {name} from {self.where}: got {got} bytes but the server reported "
                        f"{expected}; the file changed during the download (still being written?)"
                    )
                os.replace(part, dest)
                _fsync_dir(dest.parent)
            except BaseException:
                part.unlink(missing_ok=True)
                raise

        self._run(f"fetch {name}", download)

    def put(self, src: Path, name: str) -> None:
        """Upload to `.<name>.part` next to the target, check the size, then rename into place."""
        src = Path(src)
        remote = self._remote(name)
        folder, base = posixpath.split(remote)
        tmp = posixpath.join(folder, f".{base}.part")
        size = src.stat().st_size

        def upload(sftp: paramiko.SFTPClient) -> None:
            self._makedirs(sftp, folder)
            try:
                with open(src, "rb") as fl:
                    attrs = sftp.putfo(fl, tmp, file_size=size, confirm=True)
                if attrs.st_size != size:
                    raise TransportError(
                        f"put {name} on {self.where}: uploaded {attrs.st_size} of {size} bytes"
                    )
                self._rename(sftp, tmp, remote)
            except BaseException:
                try:
                    sftp.remove(tmp)
                except Exception:
                    pass  # best effort: a temporary name is ignored by every reader anyway
                raise

        self._run(f"put {name}", upload)

    def move(self, name: str, new_name: str) -> None:
        """Rename on the server (e.g. into `processed/`), creating folders; replaces `new_name`."""
        old, new = self._remote(name), self._remote(new_name)
        first = True

        def rename(sftp: paramiko.SFTPClient) -> None:
            nonlocal first
            if not first and not _exists(sftp, old) and _exists(sftp, new):
                return  # the previous attempt did it; only the answer was lost
            first = False
            self._makedirs(sftp, posixpath.dirname(new))
            self._rename(sftp, old, new)

        self._run(f"move {name}", rename)

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _rename(sftp: paramiko.SFTPClient, old: str, new: str) -> None:
        """Atomic replace where the server supports posix-rename (OpenSSH does)."""
        try:
            sftp.posix_rename(old, new)
            return
        except OSError as e:
            if isinstance(e, (FileNotFoundError, PermissionError)):
                raise
        # Plain SFTP rename refuses to overwrite: remove the target first.
        try:
            sftp.remove(new)
        except FileNotFoundError:
            pass
        sftp.rename(old, new)

    @staticmethod
    def _makedirs(sftp: paramiko.SFTPClient, folder: str) -> None:
        if folder in ("", ".", "/"):
            return
        if _exists(sftp, folder):
            return
        SftpTransport._makedirs(sftp, posixpath.dirname(folder))
        try:
            sftp.mkdir(folder)
        except OSError:
            if not _exists(sftp, folder):  # created by someone else meanwhile is fine
                raise


def _copy_pipelined(fr: paramiko.SFTPFile, fw, size: int) -> int:
    """Copy the first `size` bytes with many reads in flight, one bounded window at a time.

    paramiko's own bounded prefetch polls every 10 ms and is several times slower; an unbounded
    prefetch could buffer a whole file in memory when the disk is slower than the network.
    """
    copied = 0
    for start in range(0, size, WINDOW):
        end = min(start + WINDOW, size)
        blocks = [(o, min(READ_BLOCK, end - o)) for o in range(start, end, READ_BLOCK)]
        for data in fr.readv(blocks):
            if not data:
                return copied  # the file shrank: the caller compares sizes
            fw.write(data)
            copied += len(data)
    fr.seek(copied)
    return copied


def _exists(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        sftp.stat(path)
        return True
    except FileNotFoundError:
        return False


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe(e: BaseException) -> str:
    text = str(e).strip().rstrip(":")
    if not text and isinstance(e, (TimeoutError, socket.timeout)):
        text = "no answer within the timeout"
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
