"""The Gradio wire protocol, without I/O.

`discovery` finds an app's API root and reads its API description; `messages` decodes event
streams (rebuilding streamed diffs); `dialects` holds what differs between Gradio protocol
families (routes, bodies, file URLs), one class per family.
"""
