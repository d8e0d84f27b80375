"""The demo service: settings from settings.yml beside this file, no external service needed.

Run it with ``./dev demo`` from the repository root (or ``python examples/demo/microservice.py``
inside the .venv) and stop it with Ctrl-C. While it runs, the report server shows its status,
health and Prometheus metrics.
"""

from __future__ import annotations

import os
from pathlib import Path

from tamarco.core.microservice import Microservice, task, task_timer
from tamarco.resources.basic.metrics import Counter

HERE = Path(__file__).resolve().parent

ticks = Counter("ticks", "ticks")


class DemoService(Microservice):
    name = "demo"

    async def post_start(self) -> None:
        await super().post_start()
        report = self.resources.get("tamarco_http_report_server")
        if report is not None:
            base = report.url  # type: ignore[attr-defined]
            print(
                f"Demo service running. Look at {base}/status, {base}/health/ready and {base}/metrics",
                flush=True,
            )

    @task
    async def greet(self) -> None:
        greeting = await self.settings.get("system.microservices.demo.greeting")
        self.logger.info("%s (deploy %s). Press Ctrl-C to stop.", greeting, self.deploy_name)

    @task_timer(interval=2000, autostart=True)
    async def tick(self) -> None:
        ticks.inc()
        self.logger.info("tick %d", int(ticks.current_value()))


def main() -> None:
    os.environ.setdefault("TAMARCO_YML_FILE", str(HERE / "settings.yml"))
    print(f"Demo service starting with settings from {os.environ['TAMARCO_YML_FILE']}", flush=True)
    DemoService().run()


if __name__ == "__main__":
    main()
