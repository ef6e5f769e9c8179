#!/usr/bin/env python3
"""A client of sscard-bridge built on Python's `websockets` (python3-websockets),
as a page's script would talk to it. Used by tests/bridge.rs.

    bridge_client.py calls URL [--origin O] [--host H]
        sends every JSON line of standard input, then prints one line per
        answer (notifications skipped), in the order they came. A refused
        handshake prints {"refused": STATUS}.
    bridge_client.py watch URL COUNT SECONDS
        prints {"ready": true}, then each notification, until COUNT came or
        SECONDS passed; {"closed": CODE} if the bridge closes the connection.
    bridge_client.py big URL BYTES
        sends one text message of BYTES bytes; prints {"closed": CODE} or
        {"answer": …}.
    bridge_client.py fire URL
        sends every JSON line of standard input and closes the connection
        at once, without waiting for an answer (a page closed mid-call).
    bridge_client.py get URL [--host H] [--method M]
        a plain HTTP GET (or M) of URL's path, sent as it is (no normalising);
        prints {"status": STATUS, "headers": {NAME: VALUE}, "body": TEXT}.
    bridge_client.py flood URL COUNT
        opens COUNT connections at once and one more, closes them all;
        prints {"opened": N, "extra": STATUS or "open"}.

With --host, the TCP connection goes to 127.0.0.1 at URL's port while the
handshake's Host header names URL's host (a DNS rebinding page's request).
"""

import asyncio
import json
import resource
import sys
from urllib.parse import urlparse

import websockets
import websockets.exceptions


def connect(url, origin=None, host=None, **kw):
    kw.setdefault("ping_interval", None)
    kw.setdefault("max_size", None)
    if host:
        port = urlparse(url).port
        url = "ws://%s:%d/" % (host, port)
        kw["host"] = "127.0.0.1"
        kw["port"] = port
    return websockets.connect(url, origin=origin, open_timeout=10, **kw)


def refused_status(e):
    return getattr(e, "status_code", None) or getattr(getattr(e, "response", None), "status_code", None)


def close_code(e):
    rcvd = getattr(e, "rcvd", None)
    return rcvd.code if rcvd is not None else None


def is_notification(message):
    return "method" in message and "id" not in message


async def calls(url, origin, host):
    lines = [l for l in sys.stdin.read().splitlines() if l.strip()]
    try:
        ws = await connect(url, origin=origin, host=host)
    except websockets.exceptions.InvalidStatusCode as e:
        print(json.dumps({"refused": refused_status(e)}))
        return
    try:
        for line in lines:
            await ws.send(line)
        answered = 0
        while answered < len(lines):
            text = await asyncio.wait_for(ws.recv(), 60)
            message = json.loads(text)
            if is_notification(message):
                continue
            print(json.dumps(message, ensure_ascii=False), flush=True)
            answered += 1
    finally:
        await ws.close()


async def watch(url, count, seconds):
    async with connect(url) as ws:
        print(json.dumps({"ready": True}), flush=True)
        seen = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while seen < count:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                text = await asyncio.wait_for(ws.recv(), left)
            except asyncio.TimeoutError:
                break
            except websockets.exceptions.ConnectionClosed as e:
                print(json.dumps({"closed": close_code(e)}), flush=True)
                break
            message = json.loads(text)
            if is_notification(message):
                print(json.dumps(message), flush=True)
                seen += 1


async def big(url, size):
    async with connect(url) as ws:
        try:
            await ws.send("x" * size)
            text = await asyncio.wait_for(ws.recv(), 30)
            print(json.dumps({"answer": json.loads(text)}))
        except websockets.exceptions.ConnectionClosed as e:
            print(json.dumps({"closed": close_code(e)}))


async def fire(url):
    lines = [l for l in sys.stdin.read().splitlines() if l.strip()]
    ws = await connect(url)
    for line in lines:
        await ws.send(line)
    ws.transport.abort()
    print(json.dumps({"sent": len(lines)}))


def get(url, host, method="GET"):
    import http.client
    parsed = urlparse(url)
    connection = http.client.HTTPConnection("127.0.0.1", parsed.port, timeout=10)
    path = parsed.path or "/"
    if parsed.query:
        path += "?" + parsed.query
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    connection.putheader("Host", "%s:%d" % (host or parsed.hostname, parsed.port))
    connection.endheaders()
    response = connection.getresponse()
    headers = {name.lower(): value for name, value in response.getheaders()}
    body = response.read().decode("utf-8", "replace")
    print(json.dumps({"status": response.status, "headers": headers, "body": body}))


async def flood(url, count):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sockets = []
    for start in range(0, count, 100):
        batch = [connect(url) for _ in range(start, min(count, start + 100))]
        sockets.extend(await asyncio.gather(*batch))
    try:
        extra_ws = await connect(url)
        extra = "open"
        await extra_ws.close()
    except websockets.exceptions.InvalidStatusCode as e:
        extra = refused_status(e)
    opened = sum(1 for ws in sockets if ws.open)
    await asyncio.gather(*(ws.close() for ws in sockets))
    print(json.dumps({"opened": opened, "extra": extra}))


def main():
    command, url = sys.argv[1], sys.argv[2]
    if command == "calls":
        args = sys.argv[3:]
        origin = host = None
        while args:
            flag, value = args[0], args[1]
            args = args[2:]
            if flag == "--origin":
                origin = value
            elif flag == "--host":
                host = value
        asyncio.run(calls(url, origin, host))
    elif command == "watch":
        asyncio.run(watch(url, int(sys.argv[3]), float(sys.argv[4])))
    elif command == "big":
        asyncio.run(big(url, int(sys.argv[3])))
    elif command == "fire":
        asyncio.run(fire(url))
    elif command == "get":
        args = dict(zip(sys.argv[3::2], sys.argv[4::2]))
        get(url, args.get("--host"), args.get("--method", "GET"))
    elif command == "flood":
        asyncio.run(flood(url, int(sys.argv[3])))
    else:
        raise SystemExit("unknown command %r" % command)


if __name__ == "__main__":
    main()
