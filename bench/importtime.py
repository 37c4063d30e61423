"""What a `gradio-session` command imports, by top-level package, from `python -X importtime`.

    .venv/bin/python bench/importtime.py [--src OTHER/src] [--session NAME] -- ARGS...

Runs `gradio-session ARGS` once to warm the bytecode cache, then `--runs` more times under
`-X importtime`, and prints each package's own import time (median over the runs, in ms,
importtime's own overhead included) with the total and the module count. `--src` runs another
checkout's source instead (e.g. a `git worktree` of an older commit) for a before/after table;
its entry point is found as `cli.client:main`, else `cli.app:main`. The command runs as it
would from a shell: with GRADIO_SESSION_SERVER=0 unless `--served`.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

LINE = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|(\s*)(\S+)")


def entry(src: Path | None) -> str:
    root = src or Path(__file__).resolve().parent.parent / "src"
    module = "client" if (root / "gradio_session" / "cli" / "client.py").exists() else "app"
    return f"from gradio_session.cli.{module} import main"


def once(args: list[str], src: Path | None, env: dict[str, str]) -> dict[str, float]:
    code = f"import sys; sys.argv = ['gradio-session', *sys.argv[1:]]; {entry(src)}; main()"
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args], env=env,
                       capture_output=True, text=True)
    per_package: dict[str, float] = defaultdict(float)
    for match in LINE.finditer(r.stderr):
        per_package[match.group(3).split(".")[0]] += int(match.group(1)) / 1000
    per_package["(modules)"] = float(len(LINE.findall(r.stderr)))
    return per_package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", type=Path, help="another checkout's src folder")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--served", action="store_true", help="let a CLI server take the command")
    parser.add_argument("args", nargs="+")
    opts = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if opts.src:
        env["PYTHONPATH"] = str(opts.src.resolve())
    if not opts.served:
        env["GRADIO_SESSION_SERVER"] = "0"
    once(opts.args, opts.src, env)  # bytecode cache
    runs = [once(opts.args, opts.src, env) for _ in range(opts.runs)]
    packages = {p for run in runs for p in run}
    median = {p: statistics.median(run.get(p, 0.0) for run in runs) for p in packages}
    modules = median.pop("(modules)")
    print(f"gradio-session {' '.join(opts.args)}: {sum(median.values()):.0f} ms of imports "
          f"(importtime's own overhead included), {modules:.0f} modules")
    for package, ms in sorted(median.items(), key=lambda kv: -kv[1])[:opts.top]:
        print(f"  {ms:7.1f}  {package}")


if __name__ == "__main__":
    main()
