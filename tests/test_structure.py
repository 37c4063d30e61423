"""The house rules, read from the source with `ast`: no import cycle, the core free of the CLI
and the holder, the CLI on the public API only, modules of a readable size, the map true."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "gradio_session"
ROOT = PACKAGE.parent.parent
BUDGET = 450  # lines; "about 400"
PUBLIC = {"gradio_session", "gradio_session.aio", "gradio_session.batch", "gradio_session.codegen", "gradio_session.errors", "gradio_session.models",
          "gradio_session.paths", "gradio_session.version"}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = modules()


def imports(name: str) -> set[str]:
    """The package's modules that `name` imports (TYPE_CHECKING and function-level too)."""
    path = MODULES[name]
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                target = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
            candidates = [target, *(f"{target}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        out.update(c for c in candidates if c in MODULES and c != name)
    return out


GRAPH = {name: imports(name) for name in MODULES}


def test_the_walk_sees_the_imports() -> None:
    """Guard against a walker that finds nothing and so can never fail."""
    assert "gradio_session.core.channel" in GRAPH["gradio_session.core.session"]
    assert "gradio_session.protocol.messages" in GRAPH["gradio_session.protocol.dialects"]
    assert "gradio_session.holder" in GRAPH["gradio_session.aio"]


def test_no_import_cycle() -> None:
    """Package `__init__` files may import their children; no other module is in a cycle."""
    def is_init(name: str) -> bool:
        return MODULES[name].name == "__init__.py"

    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        for target in sorted(GRAPH[name]):
            if is_init(target):
                continue
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif not state.get(target):
                visit(target, [*stack, target])
        state[name] = 2

    for name in sorted(GRAPH):
        if not is_init(name) and not state.get(name):
            visit(name, [name])
    assert cycles == []


@pytest.mark.parametrize("layer", ["errors", "models", "paths", "version", "protocol", "binding", "store",
                                   "transport", "files", "core"])
def test_lower_layers_never_import_the_cli_or_the_holder(layer: str) -> None:
    prefix = f"gradio_session.{layer}"
    bad = {(name, target) for name, targets in GRAPH.items() if name == prefix or name.startswith(prefix + ".")
           for target in targets if target.startswith(("gradio_session.cli", "gradio_session.holder"))}
    assert bad == set()


def test_leaves_import_nothing_of_the_package() -> None:
    for leaf in ("errors", "models", "paths", "version"):
        assert GRAPH[f"gradio_session.{leaf}"] == set(), leaf


def test_protocol_is_pure() -> None:
    """The protocol layer does no I/O: it imports neither the transport nor the store."""
    for name, targets in GRAPH.items():
        if name.startswith("gradio_session.protocol"):
            assert not {t for t in targets if not t.startswith(("gradio_session.protocol", "gradio_session.errors",
                                                                "gradio_session.models"))}, name


def test_the_cli_uses_only_the_public_api() -> None:
    """...but for the CLI server, which runs commands on the runtime's own loop, and both ends of
    its socket, which check that the other is the user's own (`private`)."""
    hosting = {"gradio_session.cli.server": {"gradio_session.core.runtime", "gradio_session.private"},
               "gradio_session.cli.client": {"gradio_session.private"},
               "gradio_session.cli.agents": {"gradio_session.mcp.server"}}  # `gradio-session mcp`
    for name, targets in GRAPH.items():
        if name.startswith("gradio_session.cli"):
            allowed = PUBLIC | hosting.get(name, set())
            assert {t for t in targets if not t.startswith("gradio_session.cli")} <= allowed, name


@pytest.mark.parametrize("surface", ["mcp", "notebook"])
def test_the_surfaces_use_only_the_public_api(surface: str) -> None:
    """`gradio-session mcp` and the notebook display are surfaces above the public API, as the
    CLI is; only the package's `__init__` loads the notebook's, inside a Jupyter kernel."""
    prefix = f"gradio_session.{surface}"
    for name, targets in GRAPH.items():
        if name.startswith(prefix):
            assert {t for t in targets if not t.startswith(prefix)} <= PUBLIC, name
        elif name != "gradio_session":
            assert not {t for t in targets if t.startswith(prefix)} - {"gradio_session.mcp.server"}, name


def test_modules_stay_readable() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert {name: n for name, n in sizes.items() if n > BUDGET} == {}


def test_architecture_names_every_module() -> None:
    """ARCHITECTURE.md is the map: every module file is named there."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    missing = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
               if path.name not in ("__init__.py", "__main__.py") and str(path.relative_to(PACKAGE)) not in text]
    assert missing == []
