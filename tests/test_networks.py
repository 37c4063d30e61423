"""Real networks: an app over HTTPS with a private CA's certificate (trustme), real proxies
(proxy.py for HTTP, pproxy for SOCKS5) whose logs show what went through them, an app behind a
header (Gradio's `auth_dependency`), and a load balancer's affinity cookie."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import gradio_session as gs
from conftest import APPS, AppServer, cli, files_holding
from netfix import HttpProxy, SocksProxy, TestCA

TRUST_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")
PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def plain_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy and no CA bundle from the machine's environment: each test sets its own."""
    for name in (*TRUST_ENV, *PROXY_ENV):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(scope="module")
def tls_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, TestCA]]:
    """The login app served over HTTPS with a certificate of a CA made for the test."""
    ca = TestCA(tmp_path_factory.mktemp("ca"))
    with AppServer(APPS / "auth_app.py", *ca.app_args(), https=True) as app:
        yield app, ca


def test_a_private_ca_is_said_given_and_kept(tls_app: tuple[AppServer, TestCA], home: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    app, ca = tls_app
    with pytest.raises(gs.CertificateError, match="certificate of https://127.0.0.1:.* was not accepted.*--ca-bundle"):
        gs.new_session(app.url, name="tls", auth=("alice", "secret"))
    r = cli("new", app.url, "--name", "tls")
    assert r.returncode == 1 and "--ca-bundle FILE" in r.stderr and "Is the app running" not in r.stderr
    assert "Traceback" not in r.stderr and gs.list_sessions() == []
    for variable in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):  # the environment's bundle, for this process
        monkeypatch.setenv(variable, str(ca.ca_pem))
        assert gs.new_session(app.url, name="by-env", auth=("alice", "secret"), force=True).call("echo", "e") == ["e"]
        monkeypatch.delenv(variable)
    r = cli("new", app.url, "--name", "tls", "--ca-bundle", str(ca.ca_pem), "--login", "alice", "--password-stdin",
            input="secret\n")
    assert r.returncode == 0, r.stderr
    for word in ("one", "two"):  # later processes need nothing: the bundle is the session's
        r = cli("call", "echo", word, "--session", "tls")
        assert r.returncode == 0 and r.stdout == f"{word}\n", r.stderr
    assert json.loads(cli("show", "tls", "--json").stdout)["ca_bundle"] == str(ca.ca_pem)


def test_insecure_is_said_on_each_command(tls_app: tuple[AppServer, TestCA]) -> None:
    app, _ = tls_app
    r = cli("new", app.url, "--name", "lax", "--insecure", "--login", "alice", "--password-stdin", input="secret\n")
    assert r.returncode == 0 and "does not check its app's certificate (--insecure)" in r.stderr, r.stderr
    r = cli("call", "echo", "x", "--session", "lax")
    assert r.returncode == 0 and r.stdout == "x\n" and "(--insecure)" in r.stderr, r.stderr
    assert json.loads(cli("show", "lax", "--json").stdout)["insecure"] is True
    assert cli("set", "lax", "--secure").returncode == 0
    r = cli("call", "echo", "x", "--session", "lax")
    assert r.returncode == 1 and "was not accepted" in r.stderr, r.stderr


def _went_through(proxy: HttpProxy, app: AppServer) -> list[str]:
    """The paths of the app's requests the proxy forwarded."""
    return [r.path for r in proxy.requests() if r.target == f"127.0.0.1:{app.port}"]


def test_the_environments_proxy_is_used_and_no_proxy_respected(demo_app: AppServer, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request goes through HTTP_PROXY: the proxy logs them, and once it is stopped
    nothing gets through, in Python or the CLI, but what NO_PROXY names."""
    proxy = HttpProxy()
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        s = gs.new_session(demo_app.url, name="px")
        source = tmp_path / "in.txt"
        source.write_text("abc")
        (fd,) = s.call("reverse_file", str(source))
        assert Path(fd["path"]).read_text() == "cba"
        s.close()
        r = cli("call", "echo", "served", "--session", "px")  # a CLI server started with this environment
        assert r.returncode == 0, r.stderr
        assert "/config" in _went_through(proxy, demo_app)
    finally:
        proxy.stop()
    with pytest.raises(gs.ConnectError, match="through a proxy"):
        gs.get_session("px").call("echo", "x")
    r = cli("call", "echo", "x", "--session", "px")
    assert r.returncode == 1 and "through a proxy" in r.stderr and "Traceback" not in r.stderr, r.stderr
    for no_proxy in ("127.0.0.1", "localhost,127.0.0.1"):  # another environment: another CLI server
        r = cli("call", "echo", "direct", "--session", "px", env={"NO_PROXY": no_proxy})
        assert r.returncode == 0 and r.stdout == "direct\n", r.stderr
    gs.get_session("px").close()  # a connection reads the environment when it is made
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert gs.get_session("px").call("echo", "y") == ["y"]


def test_a_sessions_own_proxy_with_credentials(demo_app: AppServer, home: Path) -> None:
    with HttpProxy(auth="proxyuser:pr0xy-pa55") as proxy:
        bare = proxy.url.replace("proxyuser:pr0xy-pa55@", "")
        with pytest.raises(gs.GradioSessionError, match="407"):
            gs.new_session(demo_app.url, name="no-creds", proxy=bare)
        assert proxy.refused() >= 1 and gs.list_sessions() == []
        r = cli("new", demo_app.url, "--name", "own", "--proxy", proxy.url)
        assert r.returncode == 0, r.stderr
        r = cli("call", "echo", "via", "--session", "own")
        assert r.returncode == 0 and r.stdout == "via\n", r.stderr
        assert "/config" in _went_through(proxy, demo_app)
        shown = cli("show", "own", "--json").stdout
        assert json.loads(shown)["proxy"] == bare and "pr0xy-pa55" not in shown
        assert files_holding(home, "pr0xy-pa55") == [f"tokens/{gs.get_session('own').id}"]


def test_a_socks_proxy(demo_app: AppServer) -> None:
    with SocksProxy() as socks:
        s = gs.new_session(demo_app.url, name="socks", proxy=socks.url)
        assert s.call("echo", "s") == ["s"]
        assert f"127.0.0.1:{demo_app.port}" in socks.connections()


def test_a_header_the_app_wants(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Gradio's `auth_dependency` checking an API key header: refused without it (said so),
    kept with the session (never in SQLite or on the command line), sent by every process."""
    with AppServer(APPS / "header_gate_app.py") as app:
        with pytest.raises(gs.AccessDenied, match="--header"):
            gs.new_session(app.url, name="gate")
        monkeypatch.setenv("X_API_KEY", "k-123")
        r = cli("new", app.url, "--name", "gate", "--header", "X-Api-Key")  # the value from $X_API_KEY
        assert r.returncode == 0, r.stderr
        monkeypatch.delenv("X_API_KEY")
        for word in ("a", "b"):
            r = cli("call", "echo", word, "--session", "gate")
            assert r.returncode == 0 and r.stdout == f"{word}\n", r.stderr
        assert json.loads(cli("show", "gate", "--json").stdout)["headers"] == ["X-Api-Key"]
        assert files_holding(home, "k-123") == [f"tokens/{gs.get_session('gate').id}"]
        gs.set_options("gate", headers={"X-Api-Key": "wrong"})
        with pytest.raises(gs.AccessDenied):
            gs.get_session("gate").call("echo", "c")
        r = cli("set", "gate", "--header", "X-Api-Key: k-123")
        assert r.returncode == 0 and gs.get_session("gate").call("echo", "d") == ["d"]


def test_the_apps_affinity_cookie_is_kept_for_every_process(tmp_path: Path) -> None:
    log = tmp_path / "cookies.log"
    with AppServer(APPS / "affinity_app.py", str(log)) as app:
        log.unlink()  # the fixture's own readiness probe
        gs.new_session(app.url, name="lb").close()
        r = cli("call", "echo", "again", "--session", "lb")
        assert r.returncode == 0, r.stderr
    lines = log.read_text().splitlines()
    assert lines[0] == "/config -" and len(lines) > 3
    assert all(line.endswith(" r1") for line in lines[1:]), lines


def test_dask_workers_log_in_as_the_session(tmp_path: Path) -> None:
    """A batch on Dask: each worker opens its own session on the app with the parent's login
    (read from the parent's kept secrets, never sent through Dask)."""
    from distributed import Client, LocalCluster

    with AppServer(APPS / "auth_app.py") as app:
        s = gs.new_session(app.url, name="parent", auth=("alice", "secret"))
        source = tmp_path / "in.jsonl"
        source.write_text("".join(json.dumps({"text": f"w{i}"}) + "\n" for i in range(20)))
        out = tmp_path / "out.jsonl"
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            record = gs.batch.run(s, "echo", str(source), out, engine="dask", client=client, concurrency=2)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert record.done == 20 and sorted(r["outputs"][0] for r in rows) == sorted(f"w{i}" for i in range(20))
    assert len(record.workers) == 2


def test_credentials_in_a_url_are_a_login_never_kept_or_printed(home: Path) -> None:
    with AppServer(APPS / "auth_app.py") as app:
        r = cli("new", app.url.replace("http://", "http://alice:wr0ng-pw@"), "--name", "u")
        assert r.returncode == 1 and "refused the login of 'alice'" in r.stderr, r.stderr
        assert "wr0ng-pw" not in r.stdout + r.stderr and gs.list_sessions() == []
        r = cli("new", app.url.replace("http://", "http://alice:secret@"), "--name", "u", "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["app_url"] == app.url and json.loads(r.stdout)["login"] == "alice"
        r = cli("list")
        assert app.url in r.stdout and "secret" not in r.stdout
        assert files_holding(home, "secret") == [f"tokens/{gs.get_session('u').id}"]


def test_a_refused_login_is_recorded_and_changes_nothing(home: Path) -> None:
    with AppServer(APPS / "auth_app.py") as app:
        s = gs.new_session(app.url, name="re", auth=("alice", "secret"))
        with pytest.raises(gs.LoginRefused, match=r"refused the login of 'alice' \(HTTP 400: Incorrect credentials.\)"):
            s.login("alice", "not-it")
        (last, first) = s.logins()
        assert (last.username, last.ok, last.message) == ("alice", False, "Incorrect credentials.") and first.ok
        assert s.call("echo", "still") == ["still"]  # the kept password is the good one
        r = cli("show", "re", env={"COLUMNS": "300"})
        assert "(the last login, " in r.stdout and "was refused: Incorrect credentials.)" in r.stdout
        r = cli("login", "--session", "re", "--password-stdin", input="secret\n")
        assert r.returncode == 0 and "Logged in to" in r.stderr + r.stdout, r.stderr
        assert [x.ok for x in s.logins()] == [True, False, True]
        assert files_holding(home, "not-it") == []


def test_a_bad_header_or_proxy_never_repeats_what_may_be_a_secret() -> None:
    for options in ({"headers": ["s3cr3t-value-no-name"]}, {"proxy": "//user:s3cr3t-pw@proxy.example:3128"}):
        with pytest.raises(gs.ParameterError) as refused:
            gs.new_session("http://127.0.0.1:9", name="never", **options)
        assert "s3cr3t" not in str(refused.value), options
    assert gs.list_sessions() == []
