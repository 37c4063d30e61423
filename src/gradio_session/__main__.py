"""`python -m gradio_session` runs the command line."""

from .cli.app import main

main()
