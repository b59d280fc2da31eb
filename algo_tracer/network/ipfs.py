"""IPFS through the kubo RPC API: add (streamed, CIDv1), pin, cat and get, with our errors.

The node is the LocalNet's kubo by default, or any kubo RPC endpoint (a lab's node, a pinning
service that speaks the kubo RPC API) named by `ALGO_TRACER_IPFS_API`; `ALGO_TRACER_IPFS_AUTH`
is sent as the `Authorization` header and never printed. Uploads are streamed as chunked
multipart from the files on disk and downloads are streamed to disk, so memory stays flat for
multi-GB models. The standard library's `http.client` is enough for that, so no HTTP package is
added to the dependencies.

Every request failure becomes a `NetworkError` naming the node and the fix; a CID that the node
cannot produce within the timeout is `NotRetrievableError` (verification reports it as "not
retrievable", exit 2, never as tampering).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, Protocol

from algo_tracer.errors import ConfigError, NetworkError, shorten

__all__ = [
    "ADD_OPTIONS",
    "DEFAULT_API",
    "DEFAULT_GATEWAY",
    "CatStream",
    "Entries",
    "IpfsClient",
    "IpfsNode",
    "IpfsSettings",
    "NotRetrievableError",
    "ipfs_from_environment",
]

#: The LocalNet's kubo (algo_tracer.localnet.profiles, devmode profile).
DEFAULT_API: Final = "http://127.0.0.1:5011"
DEFAULT_GATEWAY: Final = "http://127.0.0.1:8011"
#: What `ipfs add --cid-version 1` does on a node with default settings, spelled out so that a
#: node configured otherwise (Import.* settings) still builds the CID `algo_tracer.hashing.unixfs`
#: computes: 256 KiB fixed-size chunks, raw leaves, sha2-256, balanced DAG, no mtime/mode.
ADD_OPTIONS: Final = {"cid-version": "1", "raw-leaves": "true", "chunker": "size-262144",
                      "hash": "sha2-256", "trickle": "false", "pin": "true",
                      "wrap-with-directory": "false", "progress": "false", "quieter": "false"}
_CHUNK = 1 << 18
_CUT_FIX = "retry; if it happens again, check the node's log and ALGO_TRACER_IPFS_TIMEOUT"
_API_FIX = ("start the LocalNet's node (`algo-tracer localnet start`), or point "
            "ALGO_TRACER_IPFS_API at a kubo RPC API (e.g. http://127.0.0.1:5001)")

type OnBytes = Callable[[int], None]
#: A directory's content to add: (relative POSIX path, "dir" | "file" | "symlink").
type Entries = list[tuple[str, str]]


class NotRetrievableError(NetworkError):
    """No node served the content of a CID within the timeout (not a finding: nobody has it)."""


@dataclass(frozen=True)
class IpfsSettings:
    api: str = DEFAULT_API
    gateway: str = DEFAULT_GATEWAY
    #: The `Authorization` header value for a pinning service; never printed or logged.
    auth: str | None = None
    timeout: float = 30.0

    def __repr__(self) -> str:  # the auth header is a secret
        return (f"IpfsSettings(api={self.api!r}, gateway={self.gateway!r}, "
                f"auth={'<set>' if self.auth else None}, timeout={self.timeout!r})")


def ipfs_from_environment() -> IpfsSettings:
    """`ALGO_TRACER_IPFS_API`, `ALGO_TRACER_IPFS_GATEWAY`, `ALGO_TRACER_IPFS_AUTH`,
    `ALGO_TRACER_IPFS_TIMEOUT` (seconds), each defaulting to the LocalNet's node."""
    api = os.environ.get("ALGO_TRACER_IPFS_API") or DEFAULT_API
    gateway = os.environ.get("ALGO_TRACER_IPFS_GATEWAY") or DEFAULT_GATEWAY
    for name, url in (("ALGO_TRACER_IPFS_API", api), ("ALGO_TRACER_IPFS_GATEWAY", gateway)):
        parts = urllib.parse.urlsplit(url)
        if parts.username is not None or parts.password is not None:  # never echo the URL
            raise ConfigError(f"{name} holds credentials (user:password@): they would be "
                              "shown in messages and are not sent",
                              fix="remove them from the URL and set ALGO_TRACER_IPFS_AUTH to "
                              "the Authorization header value (e.g. 'Basic <base64>')")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{name}={shorten(url)} is not an http(s) URL",
                              fix=f"set {name} like http://127.0.0.1:5001 (scheme, host, port)")
    raw_timeout = os.environ.get("ALGO_TRACER_IPFS_TIMEOUT") or "30"
    try:
        timeout = float(raw_timeout)
        if not timeout > 0:
            raise ValueError
    except ValueError:
        raise ConfigError(f"ALGO_TRACER_IPFS_TIMEOUT={shorten(raw_timeout)} is not a positive "
                          "number of seconds", fix="set it like 30, or unset it") from None
    return IpfsSettings(api=api.rstrip("/"), gateway=gateway.rstrip("/"),
                        auth=os.environ.get("ALGO_TRACER_IPFS_AUTH") or None, timeout=timeout)


@dataclass
class CatStream:
    """A file CID's content, opened: the node has answered, its bytes are still to be read."""

    cid: str
    #: The file's size as the node states it (kubo's X-Content-Length), when it does.
    size: int | None
    _resp: http.client.HTTPResponse
    _where: str

    def chunks(self) -> Iterator[bytes]:
        """The bytes in chunks; a stream that ends short of `size` or breaks off raises
        `NotRetrievableError` (never a shorter content that would look like other content)."""
        got = 0
        try:
            while chunk := self._resp.read(_CHUNK):
                got += len(chunk)
                yield chunk
        except (OSError, http.client.HTTPException) as exc:
            raise NotRetrievableError(
                f"the IPFS node at {self._where} stopped serving {self.cid} after {got} bytes "
                f"({type(exc).__name__})", fix=_CUT_FIX) from exc
        finally:
            self.close()
        if self.size is not None and got != self.size:
            raise NotRetrievableError(f"the IPFS node at {self._where} served {got} of the "
                                      f"{self.size} bytes of {self.cid}", fix=_CUT_FIX)

    def close(self) -> None:
        self._resp.close()


class IpfsNode(Protocol):
    """What tracing and verification use of an IPFS node (tests pass a fake of this)."""

    @property
    def api(self) -> str: ...

    def add(self, path: Path, entries: Entries | None, on_bytes: OnBytes | None = None
            ) -> str: ...

    def pin(self, cid: str) -> None: ...

    def cat(self, cid: str) -> Iterator[bytes]: ...

    def get_tar(self, cid: str) -> BinaryIO: ...


class IpfsClient:
    """One kubo RPC endpoint (`IpfsNode`)."""

    def __init__(self, settings: IpfsSettings | None = None) -> None:
        self.settings = settings or ipfs_from_environment()
        parts = urllib.parse.urlsplit(self.settings.api)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._base = parts.path.rstrip("/")

    @property
    def api(self) -> str:
        return self.settings.api

    def version(self) -> str:
        """The node's kubo version (`/api/v0/version`): a cheap "is it there" probe."""
        with self._post("version", {}) as resp:
            return str(json.loads(resp.read()).get("Version", "?"))

    def add(self, path: Path, entries: Entries | None, on_bytes: OnBytes | None = None
            ) -> str:
        """Add a file, or a directory's `entries` ((relative POSIX path, "dir" | "file" |
        "symlink"), every one below it, empty directories too), and return the root CID."""
        boundary = uuid.uuid4().hex
        body = _multipart(path, entries, boundary, on_bytes)
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        with self._post("add", ADD_OPTIONS, body=body, headers=headers, timeout=None) as resp:
            last: dict[str, object] = {}
            for line in resp:
                if line.strip():
                    last = json.loads(line)
        cid = last.get("Hash")
        if not isinstance(cid, str) or last.get("Name") != path.name:
            raise NetworkError(f"the IPFS node at {self.api} gave no CID for {path.name}",
                               fix="check the node's log; is it a kubo RPC API?")
        return cid

    def pin(self, cid: str) -> None:
        with self._post("pin/add", {"arg": cid}, timeout=None) as resp:
            resp.read()

    def cat(self, cid: str) -> Iterator[bytes]:
        """The bytes of a file CID, streamed in chunks."""
        yield from self.open_cat(cid).chunks()

    def open_cat(self, cid: str) -> CatStream:
        """Ask the node for a file CID's content: a node that cannot serve it raises here,
        before any byte is read (`NotRetrievableError`, else `NetworkError`)."""
        resp = self._post("cat", {"arg": cid, "timeout": f"{self.settings.timeout:g}s"})
        stated = resp.getheader("X-Content-Length")
        return CatStream(cid, int(stated) if stated and stated.isdigit() else None, resp,
                         self.api)

    def get_tar(self, cid: str) -> BinaryIO:
        """A directory CID as the tar stream of `/api/v0/get` (the caller closes it)."""
        resp = self._open("get", {"arg": cid, "timeout": f"{self.settings.timeout:g}s"})
        return resp

    # -- plumbing ------------------------------------------------------------------------------

    def _post(self, command: str, args: dict[str, str], *,
              body: Iterator[bytes] | None = None, headers: dict[str, str] | None = None,
              timeout: float | None = -1.0) -> http.client.HTTPResponse:
        return self._open(command, args, body=body, headers=headers, timeout=timeout)

    def _open(self, command: str, args: dict[str, str], *,
              body: Iterator[bytes] | None = None, headers: dict[str, str] | None = None,
              timeout: float | None = -1.0) -> http.client.HTTPResponse:
        # The socket timeout bounds each read; kubo's own `timeout` argument bounds the search
        # for a CID's blocks (a node online would otherwise look for providers indefinitely).
        wait = self.settings.timeout + 5 if timeout == -1.0 else timeout
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=wait)
        url = f"{self._base}/api/v0/{command}?{urllib.parse.urlencode(args)}"
        all_headers = dict(headers or {})
        if self.settings.auth:
            all_headers["Authorization"] = self.settings.auth
        try:
            conn.request("POST", url, body=body, headers=all_headers,
                         encode_chunked=body is not None)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            if isinstance(exc, socket.timeout | TimeoutError) and command in ("cat", "get"):
                raise NotRetrievableError(
                    f"the IPFS node at {self.api} did not serve {args.get('arg')} within "
                    f"{self.settings.timeout:g} s", fix="check that a node holding it is "
                    "reachable, or raise ALGO_TRACER_IPFS_TIMEOUT") from exc
            raise NetworkError(f"the IPFS node at {self.api} is not reachable "
                               f"({type(exc).__name__}: {shorten(str(exc), 200)})",
                               fix=_API_FIX) from exc
        if resp.status != 200:
            text = resp.read(4096).decode("utf-8", "replace")
            conn.close()
            try:
                message = str(json.loads(text).get("Message", text))
            except (ValueError, AttributeError):
                message = text
            if command in ("cat", "get") and _missing(message):
                raise NotRetrievableError(
                    f"the IPFS node at {self.api} cannot retrieve {args.get('arg')}: "
                    f"{shorten(message, 200)}",
                    fix="pin it on a node that still has it, or point ALGO_TRACER_IPFS_API at "
                    "a node that holds it")
            if resp.status in (401, 403):
                raise NetworkError(f"the IPFS node at {self.api} refused the request (HTTP "
                                   f"{resp.status})", fix="check ALGO_TRACER_IPFS_AUTH")
            raise NetworkError(f"the IPFS node at {self.api} answered {command} with HTTP "
                               f"{resp.status}: {shorten(message, 200)}",
                               fix="check the node's log and its version (kubo >= 0.20)")
        return resp


def _missing(message: str) -> bool:
    text = message.lower()
    return any(s in text for s in ("not found", "context deadline exceeded", "timeout",
                                   "offline", "no link named", "invalid cid"))


def _multipart(path: Path, entries: Entries | None, boundary: str,
               on_bytes: OnBytes | None) -> Iterator[bytes]:
    """The multipart body kubo's `add` reads: a file, or a directory as a depth-first walk
    (each directory's part before its children's, as kubo's multipart reader requires)."""
    sep = f"--{boundary}\r\n".encode()

    def head(name: str, ctype: str) -> bytes:
        quoted = urllib.parse.quote(name, safe="")
        return sep + (f'Content-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
                      f"Content-Type: {ctype}\r\n\r\n").encode()

    def file_part(name: str, source: Path, root: bool = False) -> Iterator[bytes]:
        if source.is_symlink() and not root:  # a root that is a symlink is its target's content
            yield head(name, "application/symlink") + os.readlink(source).encode() + b"\r\n"
            return
        yield head(name, "application/octet-stream")
        with source.open("rb") as f:
            while chunk := f.read(_CHUNK):
                if on_bytes is not None:
                    on_bytes(len(chunk))
                yield chunk
        yield b"\r\n"

    if entries is None:
        yield from file_part(path.name, path, root=True)
    else:
        yield head(path.name, "application/x-directory") + b"\r\n"
        # Sorted by components, a directory comes right before its own entries.
        for rel, kind in sorted(entries, key=lambda e: e[0].split("/")):
            if kind == "dir":
                yield head(f"{path.name}/{rel}", "application/x-directory") + b"\r\n"
            else:
                yield from file_part(f"{path.name}/{rel}", path.joinpath(*rel.split("/")))
    yield f"--{boundary}--\r\n".encode()
