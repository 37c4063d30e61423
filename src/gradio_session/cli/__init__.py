"""The `gradio-session` command line."""
