"""A small stand-in for Logstash's inputs, run by the local backend as a child process.

Logstash is not packaged for Debian, so locally the harness runs this collector instead.
It accepts what Tamarco's log handlers send to Logstash:

- UDP datagrams, one JSON object each (Logstash ``udp`` input with the ``json`` codec);
- HTTP POSTs of a JSON object or a JSON list of objects (Logstash ``http`` input);
- a Redis list (``BLPOP``) and a Redis pub/sub channel (Logstash ``redis`` input).

Every event is appended as one JSON line to the events file, with the field
``harness_input`` naming the input (``udp``, ``http``, ``redis_list``, ``redis_channel``);
input that is not JSON is kept as ``{"message": ..., "tags": ["_jsonparsefailure"]}``, as
Logstash does. The docker backend's real Logstash writes the same file format.

Why a child process and not a thread of the test process: it shares the lifecycle code of
every other local service, so ``kill()`` is a real SIGKILL and a crash shows its log
tail; it cannot block or be blocked by the test's event loop; and the events file
outlives restarts, so a test can check that nothing sent before a restart was lost.
Python starts it in about 0.2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import IO, Any, cast

from aiohttp import web

log = logging.getLogger("tamarco.harness.collector")


class EventSink:
    """Appends events to the JSON-lines file, one flushed line per event."""

    def __init__(self, path: Path) -> None:
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def add(self, raw: bytes | str, source: str) -> int:
        """Decode ``raw`` (an object or a list of objects) and store it; returns the count."""
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        try:
            decoded: Any = json.loads(text)
        except ValueError:
            decoded = {"message": text, "tags": ["_jsonparsefailure"]}
        items = decoded if isinstance(decoded, list) else [decoded]
        for item in items:
            event = item if isinstance(item, dict) else {"message": item}
            event["harness_input"] = source
            self._file.write(json.dumps(event) + "\n")
        self._file.flush()
        return len(items)


class _UDPInput(asyncio.DatagramProtocol):
    def __init__(self, sink: EventSink) -> None:
        self._sink = sink

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._sink.add(data, "udp")


async def _http_handler(request: web.Request) -> web.Response:
    sink: EventSink = request.app["sink"]
    if request.method == "POST":
        sink.add(await request.read(), "http")
    return web.Response(text="ok")


async def _redis_input(url: str, key: str, channel: str, sink: EventSink, ready: asyncio.Event) -> None:
    """Read the list and the channel; reconnect (every 0.2 s) while Redis is away."""
    import redis.asyncio as aioredis
    import redis.exceptions

    while True:
        client = aioredis.Redis.from_url(url)
        try:
            pubsub = client.pubsub()
            await pubsub.subscribe(channel)
            ready.set()
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
                if message is not None and message["type"] == "message":
                    sink.add(cast(bytes, message["data"]), "redis_channel")
                popped = cast("bytes | None", await client.lpop(key))
                while popped is not None:
                    sink.add(popped, "redis_list")
                    popped = cast("bytes | None", await client.lpop(key))
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            log.warning("redis input %s: %s; reconnecting", url, exc)
            await asyncio.sleep(0.2)
        finally:
            await client.aclose()


async def serve(args: argparse.Namespace) -> None:
    sink = EventSink(Path(args.events))
    tasks: list[asyncio.Task[None]] = []
    if args.redis_url:
        redis_ready = asyncio.Event()
        tasks.append(
            asyncio.create_task(_redis_input(args.redis_url, args.redis_key, args.redis_channel, sink, redis_ready))
        )
        await asyncio.wait_for(redis_ready.wait(), timeout=10)
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: _UDPInput(sink), local_addr=(args.host, args.udp_port))
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app["sink"] = sink
    app.router.add_route("*", "/{tail:.*}", _http_handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # The HTTP port opens last: the harness's ready check means every input is listening.
    await web.TCPSite(runner, args.host, args.http_port).start()
    log.info("collector ready: udp %s, http %s", args.udp_port, args.http_port)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tamarco.harness._collector")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--udp-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--events", required=True)
    parser.add_argument("--redis-url")
    parser.add_argument("--redis-key", default="logstash")
    parser.add_argument("--redis-channel", default="logstash")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
