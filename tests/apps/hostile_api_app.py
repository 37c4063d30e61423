"""A hostile app: its endpoint names, labels, descriptions, Dropdown choices and defaults carry
code that would touch the marker file MARKER if a module written from its API ran it:
`python hostile_api_app.py PORT MARKER`. Importing this file (for `texts`) needs no Gradio.

Everything is Gradio's own, but for one rewrite of `/info`: Gradio writes a non-finite default
as null, and a hostile server sends `Infinity` and `NaN` all the same (the Number defaults
12345.5 and 23456.5 become them)."""

from __future__ import annotations

import sys


def texts(marker: str) -> list[str]:
    """One text per way out of a docstring or a string literal, each running code once out."""
    run = f'__import__("pathlib").Path({marker!r}).touch()'
    return [
        f'x"""; {run}; """',
        f"y'''; {run.replace(chr(34), chr(39))}; '''",
        f'z\\"""; {run}; """\\',
        'nul\x00cr\r\x1b]0;pwned\x07 bidi\u202eevil\u202c tail"',
        'ends with a quote: "',
    ]


def names(marker: str) -> list[str]:
    """The endpoints' api_names; the last is `__init__` once NFKC-normalized, as Python reads names."""
    t = texts(marker)
    return [t[0], t[1], t[2], t[3], "__init__", "__class__", "_call", "session", "API", "translate$(touch pwned)",
            "__\uff49nit__"]


def choices(marker: str) -> list[str]:
    t = texts(marker)
    return [t[0], t[1], "back\\slash", "nul\x00", t[4]]


def description(marker: str, i: int) -> str:
    """The description of the i-th endpoint of `names`."""
    t = texts(marker)
    return t[(i + 1) % len(t)] + "\nsecond line " + t[0]


def main(port: int, marker: str) -> None:
    import gradio as gr
    import uvicorn
    from fastapi import FastAPI, Request, Response

    t = texts(marker)

    def echo(text: str) -> str:
        return text

    def pair(text: str) -> tuple[str, str]:
        return text, text

    def shadow(cast: str, self: str, choice: str, number: float, number2: float) -> str:
        return cast + self + choice + str(number) + str(number2)

    with gr.Blocks() as demo:
        text = gr.Textbox(label=t[0], value=t[2])
        out, out2 = gr.Textbox(label=t[1]), gr.Textbox(label=f"__init__ {t[3]}")
        for i, name in enumerate(names(marker)):
            gr.Button(str(i)).click(pair if i == 0 else echo, text, [out, out2] if i == 0 else [out], api_name=name,
                                    api_description=description(marker, i))
        choice = gr.Dropdown(choices=choices(marker), value=t[0], label=t[3])
        gr.Button("shadow").click(shadow, [gr.Textbox(label="cast"), gr.Textbox(label="self"), choice,
                                           gr.Number(value=12345.5), gr.Number(value=23456.5)], out, api_name="shadow")

    app = FastAPI()

    @app.middleware("http")
    async def non_finite(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        if not request.url.path.rstrip("/").endswith("/info"):
            return response
        body = b"".join([chunk async for chunk in response.body_iterator])
        body = body.replace(b"12345.5", b"Infinity").replace(b"23456.5", b"NaN")
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return Response(body, status_code=response.status_code, headers=headers)

    uvicorn.run(gr.mount_gradio_app(app, demo.queue(), path="/"), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
