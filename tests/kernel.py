"""Notebooks run in a real Jupyter kernel (nbclient + ipykernel) for the tests, every message the
kernel sent kept: the display updates that a notebook's saved outputs no longer show, widgets' too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook


class Recorded(NotebookClient):  # type: ignore[misc]
    """nbclient's client keeping every message the kernel sent (updates of a display too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.messages: list[tuple[int, dict[str, Any]]] = []

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        self.messages.append((cell_index, msg))
        return super().process_message(msg, cell, cell_index)


class Ran:
    """A notebook run: its cells' outputs and the kernel's messages, by cell."""

    def __init__(self, nb: Any, messages: list[tuple[int, dict[str, Any]]]) -> None:
        self.nb, self.messages = nb, messages
        errors = [o for c in nb.cells for o in c.get("outputs", ()) if o.output_type == "error"]
        assert errors == [], "\n".join("\n".join(o.traceback) for o in errors)

    def bundles(self, i: int) -> list[dict[str, Any]]:
        """The MIME bundles cell i shows (display_data and its result), in order."""
        return [o.get("data", {}) for o in self.nb.cells[i].outputs if o.output_type != "stream"]

    def result(self, i: int) -> dict[str, Any]:
        return next(o.data for o in self.nb.cells[i].outputs if o.output_type == "execute_result")

    def stdout(self, i: int) -> str:
        return "".join(o.text for o in self.nb.cells[i].outputs if o.output_type == "stream")

    def sent(self, i: int, kind: str) -> list[dict[str, Any]]:
        """The contents of cell i's messages of one type (`update_display_data`, `comm_msg`...)."""
        return [m["content"] for c, m in self.messages if c == i and m["msg_type"] == kind]


def run(cells: list[str] | Any, folder: Path) -> Ran:
    """Execute code cells (or a whole notebook) in a fresh kernel whose working folder is `folder`."""
    nb = new_notebook(cells=[new_code_cell(c) for c in cells]) if isinstance(cells, list) else cells
    client = Recorded(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    client.execute()
    return Ran(nb, client.messages)
