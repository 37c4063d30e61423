"""The floor of the batch benchmark: a hand-written asyncio + httpx loop over Gradio's queue
protocol (`raw_client.py`), reading JSON Lines and writing a JSON line per row as it ends.

    python bench/raw_batch.py API_URL FN_INDEX INPUT OUTPUT CONCURRENCY

At most CONCURRENCY calls in flight, the input read lazily: the same work as `gradio-session
batch`, without its checks, retries, records or resumability.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from raw_client import RawQueueClient  # noqa: E402


async def main(api_url: str, fn_index: int, source: str, target: str, concurrency: int) -> None:
    client = RawQueueClient(api_url, fn_index)
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()
    with open(source, encoding="utf-8") as rows, open(target, "ab") as out:
        async def one(index: int, text: str) -> None:
            started = time.monotonic()
            try:
                data, status, error = await client.call(text, 1), "ok", None
            except Exception as exc:  # the row's error, as a batch records it
                data, status, error = None, "error", str(exc)
            finally:
                slots.release()
            out.write(json.dumps({"index": index, "status": status, "outputs": data, "error": error,
                                  "duration": time.monotonic() - started}).encode() + b"\n")
            out.flush()

        for index, line in enumerate(rows):
            await slots.acquire()
            task = asyncio.create_task(one(index, json.loads(line)["text"]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    await client.aclose()


if __name__ == "__main__":
    url, fn, src, dst, conc = sys.argv[1:6]
    asyncio.run(main(url, int(fn), src, dst, int(conc)))
