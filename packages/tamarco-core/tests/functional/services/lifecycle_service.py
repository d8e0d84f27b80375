"""A service run as a subprocess by test_lifecycle_process.py.

Environment: HANG_ON_STOP=1 makes a resource hang in stop (awaiting), BLOCK_ON_STOP=1 makes it
block the event loop (time.sleep); FAIL_ON_START=1 makes one fail; GRACE sets the shutdown
timeout, GRACE_RAW sets it to a JSON value as is; OLD_THREAD=1 adds a 0.1-style @thread polling
threading.current_thread().stop; STUCK_THREAD=1 a @thread that never stops; LOG_FILE logs to a
file too; SLOW_STOP=<seconds> makes a stop take that long (awaiting); SELF_STOP=1 makes the
service stop itself once ready.
"""

import asyncio
import json
import os
import sys
import threading
import time

from tamarco.core.microservice import Microservice, task, thread
from tamarco.resources.bases import BaseResource


class Journal(BaseResource):
    async def pre_start(self):
        self.logger.info("resource %s pre_start", self.name)

    async def start(self):
        if os.environ.get("FAIL_ON_START") and self.name == "second":
            raise ConnectionError("cannot reach 127.0.0.1:1")
        self.logger.info("resource %s start", self.name)
        await super().start()

    async def post_start(self):
        self.logger.info("resource %s post_start", self.name)

    async def stop(self):
        self.logger.info("resource %s stop", self.name)
        if os.environ.get("HANG_ON_STOP") and self.name == "second":
            await asyncio.sleep(3600)
        if os.environ.get("SLOW_STOP") and self.name == "second":
            await asyncio.sleep(float(os.environ["SLOW_STOP"]))
        if os.environ.get("BLOCK_ON_STOP") and self.name == "second":
            time.sleep(60)  # noqa: ASYNC251 - the point: a stop that blocks the event loop
        await super().stop()

    async def post_stop(self):
        self.logger.info("resource %s post_stop", self.name)


class Second(Journal):
    depends_on = ("first",)


class LifecycleService(Microservice):
    name = "lifecycle_service"
    use_default_resources = False
    event_loop = os.environ.get("EVENT_LOOP", "auto")
    second = Second()
    first = Journal()

    def __init__(self):
        super().__init__()
        raw = os.environ.get("GRACE_RAW")
        grace = json.loads(raw) if raw is not None else float(os.environ.get("GRACE", "5"))
        self.settings.update_internal(
            {
                "system": {
                    "shutdown_timeout_seconds": grace,
                    "logging": {
                        "profile": "PRODUCTION",
                        **(
                            {"file_path": os.environ["LOG_FILE"], "file_max_bytes": 0}
                            if "LOG_FILE" in os.environ
                            else {}
                        ),
                    },
                }
            }
        )

    if os.environ.get("OLD_THREAD"):

        @thread
        def old_style(self):
            self.logger.info("old thread running")
            while not threading.current_thread().stop:
                time.sleep(0.01)
            self.logger.info("old thread stopped")

    if os.environ.get("STUCK_THREAD"):

        @thread
        def stuck(self):
            while True:
                time.sleep(0.05)

    @task
    async def announce(self):
        self.logger.info("READY")
        print(f"READY on {type(asyncio.get_running_loop()).__module__}", flush=True, file=sys.stdout)
        if os.environ.get("SELF_STOP"):
            await self.stop_gracefully(reason="asked by the service itself")
        await asyncio.sleep(3600)


if __name__ == "__main__":
    LifecycleService().run()
