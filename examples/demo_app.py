"""The bundled demo Gradio app: `python examples/demo_app.py [PORT]` serves it on 127.0.0.1.

A shim: the app ships in the package as `gradio_session.demo` (`python -m gradio_session.demo
[PORT]`), so a pip install has it too. `make demo`, the tests and the benchmarks start it by
this path; the README uploads this file as a sample.
"""

import sys

try:
    from gradio_session.demo import main
except ImportError as exc:  # gradio missing: say so in one line
    sys.exit(f"Error: {exc}")

if __name__ == "__main__":
    main()
