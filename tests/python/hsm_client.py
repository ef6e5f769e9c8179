#!/usr/bin/env python3
"""An interactive client of sscard-bridge on Python's `websockets`, for HSM
sessions, whose next request depends on the last answer (the back end
computes it). Used by tests/bridge_hsm.rs.

    hsm_client.py URL
        reads one JSON request a line from standard input, sends it, and
        prints its answer as one line (notifications skipped) before it
        reads the next; ends at the end of its input, closing the
        connection.
"""

import asyncio
import json
import sys

import websockets


async def main(url):
    async with websockets.connect(url, open_timeout=10, ping_interval=None, max_size=None) as ws:
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            if not line.strip():
                continue
            await ws.send(line.strip())
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if "method" in message and "id" not in message:
                    continue
                print(json.dumps(message, ensure_ascii=False), flush=True)
                break


asyncio.run(main(sys.argv[1]))
