"""Credentials that change while the server runs, and what each token may do.

- Bearer tokens with roles (TokenStore): `--auth-token-file` holds one token (an admin,
  as before); `--tokens-file` (repeatable) holds one token a line, `ROLE TOKEN [LABEL]`.
- The TLS certificate and key, and the client CA of mutual TLS (TlsReloader), served
  through gRPC's dynamic server credentials: a new handshake takes the new certificate,
  connections already open keep theirs.

CredentialsWatcher reloads both when a file changes (its inode, size or mtime; polled)
and on demand (SIGHUP). A file that does not parse is logged and the credentials loaded
before are kept: a reload never takes the server down or locks everyone out.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import os
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

log = logging.getLogger(__name__)

ADMIN = "admin"
TRAINER = "trainer"
ROLES = (ADMIN, TRAINER)
SERVICE = "/sanas.v1.ControllerService/"
# What a trainer token may call: its trials and the reads. Every other sanas.v1 call
# needs an admin token, so a call added later is admin-only until it is listed here.
# CreateStudy is special: a trainer may join a study that exists with the same config
# (what every SANAS trainer does at start), never create one (see service.py).
TRAINER_METHODS = frozenset(
    SERVICE + name
    for name in (
        "SuggestTrial",
        "CompleteTrial",
        "ReportTrialProgress",
        "HeartbeatTrial",
        "SkipTrial",
        "GetStudy",
        "ListStudies",
        "ListTrials",
        "WatchStudy",
        "CreateStudy",
    )
)
DEFAULT_POLL_SECONDS = 5.0
# How many removed tokens are remembered (by digest) to tell their holders so.
REMEMBERED_REMOVED = 1000


class CredentialError(ValueError):
    """A credentials file that cannot be used; its message never contains a token."""


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def fingerprint(token: str) -> str:
    """What names a token in logs and the audit log: never the token itself."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Principal:
    """Who a valid token is: its role, its label (or fingerprint) and fingerprint."""

    role: str
    label: str
    fingerprint: str


# The principal of the call being served (set by the access interceptor); None when the
# server checks no tokens, which is full access as before.
CURRENT_PRINCIPAL: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "sanas_principal", default=None
)


def parse_tokens_file(text: str, source: str) -> dict[bytes, Principal]:
    """`ROLE TOKEN [LABEL]` a line; blank lines and lines starting with # are skipped."""
    tokens: dict[bytes, Principal] = {}
    first_line: dict[bytes, int] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) not in (2, 3):
            raise CredentialError(
                f"{source} line {number}: {len(fields)} fields; expected 'ROLE TOKEN [LABEL]' "
                f"with ROLE one of {', '.join(ROLES)}"
            )
        role, token = fields[0].lower(), fields[1]
        if role not in ROLES:
            raise CredentialError(
                f"{source} line {number}: unknown role (the first field must be one of "
                f"{', '.join(ROLES)})"
            )
        key = digest(token)
        if key in first_line:
            raise CredentialError(
                f"{source} line {number}: the same token as line {first_line[key]}"
            )
        first_line[key] = number
        label = fields[2] if len(fields) == 3 else fingerprint(token)
        tokens[key] = Principal(role, label, fingerprint(token))
    if not tokens:
        raise CredentialError(f"{source} holds no token (refusing to lock every client out)")
    return tokens


def read_single_token(path: Path) -> dict[bytes, Principal]:
    """`--auth-token-file`: the whole file (stripped) is one token, an admin's."""
    token = path.read_text().strip()
    if not token:
        raise CredentialError(f"{path} is empty")
    return {digest(token): Principal(ADMIN, fingerprint(token), fingerprint(token))}


Stamp = tuple[int, int, int, int] | None


def stamp(path: Path) -> Stamp:
    """What tells a changed file: device, inode (a new file renamed or a Kubernetes
    secret's symlink swapped in), size and mtime."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


AuditSink = Callable[[dict[str, Any]], None]


class TokenStore:
    """The tokens valid now, by SHA-256 digest, reloaded from their files."""

    def __init__(
        self,
        single_files: Sequence[Path] = (),
        tokens_files: Sequence[Path] = (),
        static_token: str | None = None,
    ) -> None:
        if not (single_files or tokens_files or static_token):
            raise ValueError("a TokenStore needs a token or a tokens file")
        self._single = [Path(p) for p in single_files]
        self._lists = [Path(p) for p in tokens_files]
        self._static = (
            {digest(static_token): Principal(ADMIN, "auth_token", fingerprint(static_token))}
            if static_token
            else {}
        )
        self._lock = threading.Lock()
        self._tokens: dict[bytes, Principal] = {}
        self._removed: dict[bytes, tuple[Principal, float]] = {}
        self._stamps: list[Stamp] = []
        self.audit: AuditSink | None = None
        self._tokens = self._load()  # raises CredentialError at start
        self._stamps = self._current_stamps()

    @property
    def paths(self) -> list[Path]:
        return [*self._single, *self._lists]

    def __len__(self) -> int:
        return len(self._tokens)

    def _current_stamps(self) -> list[Stamp]:
        return [stamp(p) for p in self.paths]

    def _load(self) -> dict[bytes, Principal]:
        tokens = dict(self._static)
        for path, single in [(p, True) for p in self._single] + [(p, False) for p in self._lists]:
            try:
                found = (
                    read_single_token(path)
                    if single
                    else parse_tokens_file(path.read_text(), str(path))
                )
            except (OSError, UnicodeDecodeError) as exc:
                raise CredentialError(f"cannot read {path}: {exc}") from exc
            for key, principal in found.items():
                if key in tokens and tokens[key].role != principal.role:
                    raise CredentialError(
                        f"{path}: token {principal.fingerprint} is also listed elsewhere "
                        f"with role {tokens[key].role}"
                    )
                tokens.setdefault(key, principal)
        return tokens

    def lookup(self, token: str) -> Principal | None:
        return self._tokens.get(digest(token))

    def removed(self, token: str) -> tuple[Principal, float] | None:
        """The principal a token was and when it was removed, if it was valid once."""
        return self._removed.get(digest(token))

    def reload(self, force: bool = False) -> bool:
        """Read the files again if they changed (or `force`); True when the tokens were
        replaced. A file that does not parse is logged and the old tokens kept."""
        with self._lock:
            stamps = self._current_stamps()
            if not force and stamps == self._stamps:
                return False
            self._stamps = stamps  # a bad file is reported once, not at every poll
            try:
                new = self._load()
            except CredentialError as exc:
                log.error(
                    "tokens not reloaded, keeping the %d loaded before: %s",
                    len(self._tokens),
                    exc,
                )
                self._emit({"action": "reload_tokens", "outcome": "failed", "error": str(exc)})
                return False
            old = self._tokens
            now = time.time()
            gone = {k: p for k, p in old.items() if k not in new}
            added = {k: p for k, p in new.items() if k not in old}
            for key, principal in gone.items():
                self._removed[key] = (principal, now)
            for key in new:
                self._removed.pop(key, None)
            while len(self._removed) > REMEMBERED_REMOVED:
                self._removed.pop(next(iter(self._removed)))
            self._tokens = new
        log.info(
            "tokens reloaded: %d valid (%d added: %s; %d removed: %s)",
            len(new),
            len(added),
            ", ".join(f"{p.role} {p.label}" for p in added.values()) or "-",
            len(gone),
            ", ".join(f"{p.role} {p.label}" for p in gone.values()) or "-",
        )
        self._emit(
            {
                "action": "reload_tokens",
                "outcome": "ok",
                "valid": len(new),
                "added": [vars(p) for p in added.values()],
                "removed": [vars(p) for p in gone.values()],
            }
        )
        return True

    def _emit(self, event: dict[str, Any]) -> None:
        if self.audit is not None:
            self.audit(event)


def validate_tls(cert: bytes, key: bytes, client_ca: bytes | None) -> None:
    """Raise CredentialError unless cert and key are PEM, match, and client_ca (if any)
    is PEM: what gRPC would otherwise find out at the next handshake, failing it."""
    with tempfile.TemporaryDirectory(prefix="sanas-tls-check-") as folder:
        cert_path, key_path = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        cert_path.write_bytes(cert)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(cert_path, key_path)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise CredentialError(f"certificate and key do not load as a pair: {exc}") from exc
        if client_ca is not None:
            try:
                context.load_verify_locations(cadata=client_ca.decode("ascii"))
            except (ssl.SSLError, ValueError, UnicodeDecodeError) as exc:
                raise CredentialError(f"client CA does not load: {exc}") from exc


class TlsReloader:
    """The server's certificate, key and client CA, handed to gRPC by a fetcher that
    gRPC calls before each new TLS handshake."""

    def __init__(self, cert: Path, key: Path, client_ca: Path | None = None) -> None:
        self.cert, self.key, self.client_ca = Path(cert), Path(key), client_ca
        self._lock = threading.Lock()
        self._pending: Any = None
        self.audit: AuditSink | None = None
        self._stamps = self._current_stamps()
        self._initial, self.cert_fingerprint = self._read()  # raises CredentialError

    @property
    def paths(self) -> list[Path]:
        return [self.cert, self.key, *([self.client_ca] if self.client_ca else [])]

    def _current_stamps(self) -> list[Stamp]:
        return [stamp(p) for p in self.paths]

    def _read(self) -> tuple[Any, str]:
        try:
            cert, key = self.cert.read_bytes(), self.key.read_bytes()
            ca = self.client_ca.read_bytes() if self.client_ca else None
        except OSError as exc:
            raise CredentialError(f"cannot read the TLS files: {exc}") from exc
        validate_tls(cert, key, ca)
        config = grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)
        return config, "sha256:" + hashlib.sha256(cert).hexdigest()[:16]

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(
            self._initial,
            self._fetch,
            require_client_authentication=self.client_ca is not None,
        )

    def _fetch(self) -> Any:
        # Called by gRPC before every new handshake: a new configuration once, else None
        # (keep the current one). Never raises.
        with self._lock:
            config, self._pending = self._pending, None
        return config

    def reload(self, force: bool = False) -> bool:
        with self._lock:
            stamps = self._current_stamps()
            if not force and stamps == self._stamps:
                return False
            self._stamps = stamps
            try:
                config, cert_fingerprint = self._read()
            except CredentialError as exc:
                log.error(
                    "TLS certificate not reloaded, keeping the one loaded before (%s): %s "
                    "(tried again when the files change, or on SIGHUP)",
                    self.cert_fingerprint,
                    exc,
                )
                event = {"action": "reload_tls", "outcome": "failed", "error": str(exc)}
                ok = False
            else:
                self._pending = config
                old, self.cert_fingerprint = self.cert_fingerprint, cert_fingerprint
                log.info(
                    "TLS certificate reloaded from %s (%s, was %s): new connections use it",
                    self.cert,
                    cert_fingerprint,
                    old,
                )
                event = {"action": "reload_tls", "outcome": "ok", "certificate": cert_fingerprint}
                ok = True
        if self.audit is not None:
            self.audit(event)
        return ok


class CredentialsWatcher:
    """Polls the credential files every `poll_seconds` and reloads what changed;
    `reload_now()` (SIGHUP) re-reads every file at once, changed or not."""

    def __init__(
        self,
        tokens: TokenStore | None,
        tls: TlsReloader | None,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        on_signal: Sequence[Callable[[], None]] = (),
    ) -> None:
        self.tokens, self.tls, self.poll_seconds = tokens, tls, poll_seconds
        self.on_signal = list(on_signal)  # also run at reload_now() (the audit log's reopen)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reloads = 0  # completed reload rounds (tests wait on it)

    def start(self) -> None:
        if self.tokens is None and self.tls is None and not self.on_signal:
            return
        self._thread = threading.Thread(target=self._run, name="sanas-credentials", daemon=True)
        self._thread.start()

    def reload_now(self) -> None:
        """Safe in a signal handler: only sets an event."""
        self._wake.set()

    def check(self, force: bool = False) -> None:
        for part in (self.tokens, self.tls):
            if part is None:
                continue
            try:
                part.reload(force)
            except Exception:  # never let a reload take the watcher (or server) down
                log.exception("reloading credentials failed; the old ones are kept")
        self.reloads += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            forced = self._wake.wait(self.poll_seconds)
            if self._stop.is_set():
                return
            self._wake.clear()
            if forced:
                log.info("SIGHUP: reloading the TLS files and tokens")
                for hook in self.on_signal:
                    try:
                        hook()
                    except Exception:
                        log.exception("a SIGHUP action failed; going on")
            self.check(force=forced)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
