"""The fault suite's service: an HTTP server, a settings watch, the registry, and stops that hang.

Its settings come from the test (etcd or ``TAMARCO_YML_FILE``). What it does is printed, one line
per event, for the test to count: ``SEEN <key>=<value>`` for each change of a key under
``system.faults``, ``SLOW START``/``SLOW END`` around each ``GET /slow`` request.

``FAULT_HANG`` makes the ``hang`` resource's ``stop()`` never end: ``on_loop`` blocks the event
loop (a synchronous sleep), ``off_loop`` awaits forever with the loop free.
"""

import asyncio
import os
import time

from sanic.response import text
from tamarco.core.microservice import Microservice, task
from tamarco.resources.bases import BaseResource
from tamarco.resources.basic.registry import Registry
from tamarco.resources.io.http.resource import HTTPServerResource


class HangingStop(BaseResource):
    """A resource whose stop never ends, the way ``FAULT_HANG`` says."""

    async def stop(self) -> None:
        how = os.environ.get("FAULT_HANG", "")
        if how == "on_loop":
            print("HANG on_loop", flush=True)
            time.sleep(3600)  # noqa: ASYNC251 - blocks the event loop, on purpose
        elif how == "off_loop":
            print("HANG off_loop", flush=True)
            await asyncio.Event().wait()
        await super().stop()


class FaultService(Microservice):
    name = "fault_service"
    http_server = HTTPServerResource()
    registry = Registry()
    hang = HangingStop()

    @task
    async def watch_faults(self) -> None:
        def changed(key: str, value: object) -> None:
            print(f"SEEN {key}={value}", flush=True)

        await self.settings.watch("system.faults", changed)
        print("WATCHING", flush=True)


service = FaultService()


@service.http_server.app.route("/slow")
async def slow(request):
    seconds = float(request.args.get("seconds", "1"))
    print("SLOW START", flush=True)
    await asyncio.sleep(seconds)
    print("SLOW END", flush=True)
    return text("done")


@service.http_server.app.route("/")
async def index(request):
    return text("ok")


if __name__ == "__main__":
    service.run()
