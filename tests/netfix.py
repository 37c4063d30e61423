"""Network fixtures for tests: a test certificate authority (trustme), an HTTP proxy (proxy.py) and a
SOCKS5 proxy (pproxy), each proxy a process of its own on a free 127.0.0.1 port that logs where it
connected to, so a test can tell that traffic went through it.

    ca = TestCA(tmp_path)                   # ca.ca_pem, ca.cert_pem, ca.key_pem (paths)
    app = AppServer(APPS / "auth_app.py", *ca.app_args(), https=True)   # conftest's
    httpx.get(url, verify=ca.ssl_context())
    with HttpProxy() as proxy:              # HttpProxy(auth="user:pass") asks for credentials
        httpx.get(app.url + "/config", proxy=proxy.url)
        proxy.requests()                    # [ProxyRequest("GET", "127.0.0.1:PORT", "/config"), ...]
    with SocksProxy() as socks:             # socks.url == "socks5://127.0.0.1:PORT"
        httpx.get(app.url, proxy=socks.url)
        socks.connections()                 # ["127.0.0.1:PORT", ...]
"""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

try:  # run by pytest from the repository: the tests folder is on sys.path
    from conftest import free_port
except ImportError:  # pragma: no cover - imported from elsewhere
    def free_port(host: str = "127.0.0.1") -> int:
        with socket.socket() as s:
            s.bind((host, 0))
            return int(s.getsockname()[1])


class TestCA:
    """A certificate authority made for the test and a server certificate it signed for
    127.0.0.1, localhost (and `hosts`), written as PEM files into `folder`:
    `ca_pem` (the CA certificate, to trust), `cert_pem` (the server's chain), `key_pem`."""

    __test__ = False  # not a test class, despite its name

    def __init__(self, folder: str | os.PathLike[str], hosts: tuple[str, ...] = ()) -> None:
        import trustme

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA()
        self.server = self.ca.issue_cert("127.0.0.1", "localhost", *hosts)
        self.ca_pem = self.folder / "ca.pem"
        self.cert_pem = self.folder / "cert.pem"
        self.key_pem = self.folder / "key.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_pem))
        self.server.private_key_pem.write_to_path(str(self.key_pem))
        # the server's certificate followed by the chain up to (not including) the CA
        with open(self.cert_pem, "wb") as f:
            for blob in self.server.cert_chain_pems:
                f.write(blob.bytes())

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA only (for `httpx.get(..., verify=ctx)`)."""
        return ssl.create_default_context(cafile=str(self.ca_pem))

    def app_args(self) -> tuple[str, str, str]:
        """The arguments that make tests/apps/auth_app.py serve https with this certificate."""
        return "--https", str(self.cert_pem), str(self.key_pem)


class _Process:
    """A helper process with its output in a temporary file (not a pipe), stopped by stop()."""

    name = "process"

    def __init__(self, args: list[str], port: int, timeout: float, env: dict[str, str] | None = None) -> None:
        self.port = port
        self._log = tempfile.NamedTemporaryFile(prefix=f"{self.name}-", suffix=".log", delete=False)
        self.log_path = Path(self._log.name)
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,  # its own process group: stop() ends its workers too
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                text = self.text()
                self.stop()
                raise RuntimeError(f"{self.name} exited: {text[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    text = self.text()
                    self.stop()
                    raise RuntimeError(f"{self.name} did not start in time: {text[-2000:]}")
                time.sleep(0.1)

    def text(self) -> str:
        """All the process wrote so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """End the process (and the workers it started); idempotent."""
        if self.proc.poll() is None:
            group = self._group()  # its workers, found while its group id cannot be reused
            self.proc.terminate()  # proxy.py ends its acceptor/worker processes on SIGTERM
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            for pid in group:  # any worker left: still in that group, so still ours
                if pid in self._group():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
        if not self._log.closed:
            self._log.close()

    def _group(self) -> set[int]:
        """The other processes of its process group (it was started in a session of its own)."""
        found = set()
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if len(fields) > 2 and fields[2] == str(self.proc.pid) and int(entry.name) != self.proc.pid:
                found.add(int(entry.name))
        return found

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:
        try:
            self.stop()
        except Exception:
            pass


class ProxyRequest(NamedTuple):
    """One request proxy.py forwarded: `method` ("GET", "POST", ..., or "CONNECT"), `target`
    ("host:port" as the client named it) and `path` ("/config?x=1"; "" for CONNECT: the proxy
    sees only the tunnel)."""

    method: str
    target: str
    path: str


# A proxy.py plugin that writes a line for every request it forwards, when it forwards it (proxy.py's
# own access log has one line per client connection, the first request's, written when the
# connection closes: later requests of a keep-alive connection never show there).
_PLUGIN = """
import os

from proxy.http.proxy import HttpProxyBasePlugin


def _text(value):
    return value.decode(errors="replace") if isinstance(value, bytes) else ("" if value is None else str(value))


class RequestLog(HttpProxyBasePlugin):
    def handle_client_request(self, request):
        try:
            line = "%s %s:%s %s" % (_text(request.method), _text(request.host), _text(request.port),
                                   _text(request.path))
            with open(os.environ["NETFIX_PROXY_LOG"], "a") as f:
                f.write(line.replace("\\n", " ") + "\\n")
        except Exception:
            pass
        return request
"""


class HttpProxy(_Process):
    """proxy.py as an HTTP proxy on a free 127.0.0.1 port: `url` ("http://127.0.0.1:PORT", with
    "user:pass@" when `auth` is given), `requests()` what it forwarded, `refused()` how many
    requests it refused, `log()` its own log, `stop()`.

    `auth="user:pass"` makes it answer 407 to requests without those credentials (`--basic-auth`).
    """

    name = "proxy.py"

    def __init__(self, auth: str | None = None, port: int | None = None, timeout: float = 30,
                 extra: tuple[str, ...] = ()) -> None:
        port = port or free_port()
        self.auth = auth
        self.folder = Path(tempfile.mkdtemp(prefix="proxy.py-"))
        (self.folder / "netfix_proxy_log.py").write_text(_PLUGIN)
        self.request_log = self.folder / "requests.log"
        self.request_log.touch()
        self.access_log = self.folder / "proxy.log"
        args = [
            sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", str(port),
            "--num-workers", "1", "--num-acceptors", "1", "--log-level", "INFO",
            "--log-file", str(self.access_log), "--plugins", "netfix_proxy_log.RequestLog", *extra,
        ]
        if auth:
            args += ["--basic-auth", auth]
        self.address = f"127.0.0.1:{port}"
        self.url = f"http://{auth + '@' if auth else ''}127.0.0.1:{port}"
        path = os.pathsep.join(p for p in (str(self.folder), os.environ.get("PYTHONPATH")) if p)
        super().__init__(args, port, timeout, env={"PYTHONPATH": path, "NETFIX_PROXY_LOG": str(self.request_log)})

    def log(self) -> str:
        """proxy.py's own log (its access lines, one per client connection, and the rest)."""
        try:
            return self.access_log.read_text(errors="replace")
        except OSError:
            return ""

    def requests(self, settle: float = 0.1) -> list[ProxyRequest]:
        """The requests it forwarded so far, oldest first, each logged as it was forwarded
        (every request of a keep-alive connection; an https request only as its CONNECT).
        Refused requests (407) are not in it: see `refused()`."""
        if settle:
            time.sleep(settle)
        found = []
        for line in self.request_log.read_text(errors="replace").splitlines():
            method, _, rest = line.partition(" ")
            target, _, path = rest.partition(" ")
            if method == "CONNECT":
                path = ""
            elif "://" in path:  # an absolute URL: keep its path
                path = "/" + path.split("://", 1)[1].partition("/")[2]
            found.append(ProxyRequest(method, target, path))
        return found

    def refused(self, settle: float = 0.3) -> int:
        """How many client connections it refused (no or wrong proxy credentials), from its own
        log (written when the connection is closed)."""
        if settle:
            time.sleep(settle)
        return len(re.findall(r"access_log:\d+ - \S+ - [A-Z]+ None:None", self.log()))


class SocksProxy(_Process):
    """pproxy as a SOCKS5 server on a free 127.0.0.1 port: `url` ("socks5://127.0.0.1:PORT", with
    "user:pass@" when `auth` is given), `connections()` the "host:port" it connected to, `stop()`."""

    name = "pproxy"

    def __init__(self, auth: str | None = None, port: int | None = None, timeout: float = 30) -> None:
        port = port or free_port()
        self.auth = auth
        cred = f"{auth}@" if auth else ""
        # pproxy spells credentials after a '#': socks5://127.0.0.1:P#user:pass
        listen = f"socks5://127.0.0.1:{port}" + (f"#{auth}" if auth else "")
        self.address = f"127.0.0.1:{port}"
        self.url = f"socks5://{cred}127.0.0.1:{port}"
        # --auth=-1: ask every connection for the credentials (pproxy otherwise lets in, for 30
        # days, any client from an address that once gave them)
        args = [sys.executable, "-m", "pproxy", "-l", listen, "-v"] + (["--auth=-1"] if auth else [])
        super().__init__(args, port, timeout)

    def log(self) -> str:
        return self.text()

    def connections(self, settle: float = 0.2) -> list[str]:
        """Where it connected for clients, oldest first: "host:port" as the client named it
        (httpx sends the host name, not an address). Lines look like
        `socks5 127.0.0.1:52746 -> 127.0.0.1:17001`."""
        if settle:
            time.sleep(settle)
        return [m[1] for m in re.finditer(r"^socks5 \S+ -> (\S+)\s*$", self.log(), re.M)]
