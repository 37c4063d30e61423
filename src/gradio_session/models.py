"""Plain records: an app's API, a session, a call and its events. Frozen; no I/O."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

CallStatus = Literal["queued", "running", "heartbeat_expired", "complete", "error", "failed",
                     "cancelled", "timed_out", "interrupted"]
MaxCallsPolicy = Literal["error", "warning", "remove"]
TERMINAL_STATUSES = frozenset({"complete", "error", "failed", "cancelled", "timed_out", "interrupted"})


@dataclass(frozen=True)
class Parameter:
    """One input of an endpoint, as `/info` describes it."""

    name: str
    label: str | None = None
    schema: dict[str, Any] = field(default_factory=dict)
    python_type: str = "Any"
    component: str | None = None
    has_default: bool = False
    default: Any = None
    file: Literal["one", "many"] | None = None  # a file parameter: one FileData or a list of them
    limits: dict[str, float] | None = None  # a slider's minimum, maximum and step (from `/config`)
    open_choices: bool = False  # a dropdown that takes values beyond its choices (allow_custom_value)


@dataclass(frozen=True)
class Output:
    """One output of an endpoint."""

    label: str | None = None
    schema: dict[str, Any] = field(default_factory=dict)
    python_type: str = "Any"
    component: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """A named endpoint. `input_state`/`output_state` flag the hidden `gr.State` slots of the
    queue protocol's data lists (one flag per dependency input/output)."""

    name: str
    parameters: tuple[Parameter, ...] = ()
    returns: tuple[Output, ...] = ()
    fn_index: int | None = None
    input_state: tuple[bool, ...] = ()
    output_state: tuple[bool, ...] = ()
    generator: bool = False
    description: str = ""  # the endpoint's own (its function's docstring, or api_description)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Endpoint:
        return cls(
            name=d["name"],
            parameters=tuple(_known(Parameter, p) for p in d.get("parameters", ())),
            returns=tuple(_known(Output, r) for r in d.get("returns", ())),
            fn_index=d.get("fn_index"),
            input_state=tuple(d.get("input_state", ())),
            output_state=tuple(d.get("output_state", ())),
            generator=bool(d.get("generator", False)),
            description=d.get("description") or "",
        )

    def from_app(self, values: dict[str, Any]) -> dict[str, Any]:
        """Values an app gave, by parameter name: a path in text given to a file parameter names
        the app's file (a FileData reference), never one of this machine to upload; URLs pass."""
        kinds = {p.name: p.file for p in self.parameters if p.file}

        def ref(value: Any) -> Any:
            return FileData(path=value) if isinstance(value, str) and not is_url(value) else value

        def fed(name: str, value: Any) -> Any:
            if name not in kinds:
                return value
            return [ref(v) for v in value] if kinds[name] == "many" and isinstance(value, list) else ref(value)

        return {name: fed(name, value) for name, value in values.items()}


def _known(cls: Any, d: dict[str, Any]) -> Any:
    """A record from its stored dict, leaving out fields a later release added."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


def is_url(value: Any) -> bool:
    return isinstance(value, str) and value[:8].lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class AppInfo:
    """What a session knows of its app: version, wire protocol and endpoints by name."""

    version: str | None = None
    protocol: str | None = None
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    api_hash: str | None = None  # of the API as read: a redeployed app with another API differs
    app_id: str | None = None  # Gradio's id of the running app: a new one after every restart

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AppInfo:
        return cls(
            version=d.get("version"),
            protocol=d.get("protocol"),
            endpoints={k: Endpoint.from_dict(v) for k, v in d.get("endpoints", {}).items()},
            api_hash=d.get("api_hash"),
            app_id=d.get("app_id"),
        )


@dataclass(frozen=True)
class Network:
    """How a session reaches its app, without a secret: recorded in the repository, shown by `show`."""

    login: str | None = None  # the user name of the app's Gradio login (the password is a secret)
    proxy: str | None = None  # the session's own proxy, credentials left out
    ca_bundle: str | None = None  # the CA certificates the app's certificate is checked against
    insecure: bool = False  # the app's certificate is not checked at all
    headers: tuple[str, ...] = ()  # the names of the headers sent to the app (their values are secrets)
    revision: int = 0  # one more at each change of these or of the secrets: long-lived processes see it

    def to_dict(self) -> dict[str, Any]:
        return {"login": self.login, "proxy": self.proxy, "ca_bundle": self.ca_bundle,
                "insecure": self.insecure, "headers": list(self.headers)}

    def stored(self) -> dict[str, Any]:
        """As the repository keeps it: what `to_dict` shows, and the revision."""
        return {**self.to_dict(), "revision": self.revision}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Network:
        return cls(login=d.get("login"), proxy=d.get("proxy"), ca_bundle=d.get("ca_bundle"),
                   insecure=bool(d.get("insecure")), headers=tuple(d.get("headers") or ()),
                   revision=int(d.get("revision") or 0))


Cookie = tuple[str, str, str, str]  # name, value, domain, path


@dataclass(frozen=True, repr=False)
class Secrets:
    """What a session keeps out of SQLite and out of sight (the OS keyring, else a 0600 file)."""

    token: str | None = None
    password: str | None = None  # of the Gradio login whose user name is `Network.login`
    headers: tuple[tuple[str, str], ...] = ()  # sent to the app's own origin only
    proxy: str | None = None  # the session's proxy URL, its credentials included
    cookies: tuple[Cookie, ...] = ()  # what the app set (its login, a load balancer's affinity)

    def __repr__(self) -> str:
        return "Secrets(***)"

    def __bool__(self) -> bool:
        return any((self.token, self.password, self.headers, self.proxy, self.cookies))

    def to_dict(self) -> dict[str, Any]:
        return {"token": self.token, "password": self.password, "headers": [list(h) for h in self.headers],
                "proxy": self.proxy, "cookies": [list(c) for c in self.cookies]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Secrets:
        cookies = tuple((str(n), str(v), str(domain), str(path)) for n, v, domain, path in d.get("cookies") or ())
        return cls(token=d.get("token"), password=d.get("password"),
                   headers=tuple((str(k), str(v)) for k, v in d.get("headers") or ()),
                   proxy=d.get("proxy"), cookies=cookies)


@dataclass(frozen=True)
class Login:
    """One login to a session's app: who, when, and whether the app took it (`message`: its answer)."""

    username: str
    at: float
    ok: bool
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"username": self.username, "at": self.at, "ok": self.ok, "message": self.message}


@dataclass(frozen=True)
class SessionRecord:
    """A session as the repository keeps it."""

    id: str
    name: str
    app_url: str
    api_url: str
    session_hash: str
    created_at: float
    app: AppInfo
    download_path: str | None = None
    max_calls: int | None = None
    max_calls_policy: MaxCallsPolicy = "error"
    has_secrets: bool = False  # secrets are kept for it (keyring or 0600 file): a token, a password...
    is_default: bool = False
    space: str | None = None  # the Hugging Face Space it was made for (owner/name)
    token_source: str | None = None  # "given", or huggingface_hub's "HF_TOKEN" / "saved login" (read each time)
    network: Network = Network()

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape the CLI prints (no API description, no secrets)."""
        return {
            "name": self.name,
            "id": self.id,
            "app_url": self.app_url,
            "api_url": self.api_url,
            "default": self.is_default,
            "download_path": self.download_path,
            "max_calls": self.max_calls,
            "max_calls_policy": self.max_calls_policy,
            "session_hash": self.session_hash,
            "created_at": self.created_at,
            "gradio_version": self.app.version,
            "protocol": self.app.protocol,
            "endpoints": len(self.app.endpoints),
            "has_token": self.token_source is not None,
            "space": self.space,
            "token": None if self.token_source is None else
            "given" if self.token_source == "given" else f"from {self.token_source}",
            **self.network.to_dict(),
        }


@dataclass(frozen=True)
class Event:
    """One event of a call: its number in the call, local time (epoch seconds), name, data."""

    num: int
    ts: float
    name: str
    data: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"num": self.num, "ts": self.ts, "event": self.name, "data": self.data}


class FileDict(TypedDict, total=False):
    """A file in a call's result, as the dict it comes back as (`path` is local once downloaded)."""

    path: str
    url: str | None
    size: int | None
    orig_name: str | None
    mime_type: str | None
    is_stream: bool
    meta: dict[str, Any]


@dataclass(frozen=True)
class FileData:
    """A file as Gradio describes it on the wire (`to_dict` is what is sent)."""

    path: str
    url: str | None = None
    orig_name: str | None = None
    size: int | None = None
    mime_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "meta": {"_type": "gradio.FileData"}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FileData:
        return cls(path=str(d["path"]), url=d.get("url"), orig_name=d.get("orig_name"),
                   size=d.get("size"), mime_type=d.get("mime_type"))


@dataclass(frozen=True)
class UploadRecord:
    """One uploaded file as the repository keeps it."""

    session_id: str
    local_path: str
    size: int
    sha256: str
    server_path: str
    uploaded_at: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CallRecord:
    """A call as the repository keeps it."""

    event_id: str
    session_id: str
    endpoint: str
    inputs: list[Any]
    status: str
    started_at: float
    finished_at: float | None = None
    error: str | None = None
    queue_wait: float | None = None  # seconds from the start to the `started` event
    reader: str | None = None  # the process reading its stream; None: left to the session's holder
    fed_by: dict[str, Any] | None = None  # the call whose result fed it: {"session", "event_id"}

    @property
    def duration(self) -> float | None:
        """Seconds from the start to the end; None while the call runs."""
        return None if self.finished_at is None else self.finished_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["reader"]
        return {**data, "duration": self.duration}


@dataclass(frozen=True)
class Row:
    """One input row of a batch: its place in the input, its key, the call's values."""

    index: int
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    key: Any = None  # the row's identity in the output: its key column's value, else its index


@dataclass(frozen=True)
class RowResult:
    """What one row of a batch (or `Session.map`) gave: the outputs, or the error."""

    index: int
    status: Literal["ok", "error"]
    outputs: Any = None
    error: str | None = None
    error_type: str | None = None  # the error's class name (`AppError`, `ParameterError`...)
    duration: float = 0.0  # seconds of the last attempt
    attempts: int = 1
    session: str | None = None
    key: Any = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class BatchRecord:
    """A batch run as the repository keeps it: its rows live in its output file."""

    id: str
    sessions: list[str]
    endpoint: str
    input: str
    output: str
    engine: str
    status: str  # running, complete, interrupted, failed
    started_at: float
    total: int | None = None
    done: int = 0
    failed: int = 0
    finished_at: float | None = None
    error: str | None = None
    workers: list[dict[str, Any]] = field(default_factory=list)  # Dask workers' own sessions

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
