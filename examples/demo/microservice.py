"""The demo service: settings from settings.yml beside this file, no external service needed.

Run it with ``./dev demo`` from the repository root (or ``python examples/demo/microservice.py``
inside the .venv) and stop it with Ctrl-C.
"""

from __future__ import annotations

import os
from pathlib import Path

from tamarco.core.microservice import Microservice, task, task_timer

HERE = Path(__file__).resolve().parent


class DemoService(Microservice):
    name = "demo"

    @task
    async def greet(self) -> None:
        greeting = await self.settings.get("system.microservices.demo.greeting")
        self.logger.info("%s (deploy %s). Press Ctrl-C to stop.", greeting, self.deploy_name)

    @task_timer(interval=2000, autostart=True)
    async def tick(self) -> None:
        self.ticks = getattr(self, "ticks", 0) + 1
        self.logger.info("tick %d", self.ticks)


def main() -> None:
    os.environ.setdefault("TAMARCO_YML_FILE", str(HERE / "settings.yml"))
    print(f"Demo service starting with settings from {os.environ['TAMARCO_YML_FILE']}", flush=True)
    DemoService().run()


if __name__ == "__main__":
    main()
