"""`python -m gradio_session` runs the command line."""

from .cli.client import main

main()
