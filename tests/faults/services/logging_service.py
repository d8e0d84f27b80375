"""The fault suite's logging service: logs ``FAULT_LOG_RATE`` records/s (default 5000) to every
output its settings enable, and prints one ``WINDOW {json}`` line every half second: records
emitted, the event loop's lag (sampled every 5 ms: each sample, wall clock and on-CPU, and their
p99) and each
output's counters (network outputs' ``statistics()``, the file output's ``write_errors``).

On a shared machine much of a wall-clock lag is the OS running other processes; the on-CPU
lag caps each sample by the loop thread's CPU time over the interval (``time.thread_time``), an
upper bound of the lag the service caused itself (as ``benchmarks/logging_loop_lag.py`` does).
"""

import asyncio
import json
import logging
import os
import time

from tamarco.core.logging.logging import FileOutputHandler
from tamarco.core.microservice import Microservice, task

TICK = 0.001
SAMPLE = 0.005
WINDOW = 0.5


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] if ordered else 0.0


def file_write_errors() -> int:
    handlers = {h for name in logging.root.manager.loggerDict for h in logging.getLogger(name).handlers}
    return sum(h.write_errors for h in handlers if isinstance(h, FileOutputHandler))


class LoggingService(Microservice):
    name = "log_faults"

    @task
    async def load(self) -> None:
        rate = float(os.environ.get("FAULT_LOG_RATE", "5000"))
        loop = asyncio.get_running_loop()
        emitted = 0
        started = loop.time()

        # Paced by the clock; after the process was descheduled, it catches up at most 4x faster
        # rather than in one burst, as records from real work would come (a burst would be
        # lag the producer made, not the outputs).
        burst = max(1, int(rate * TICK * 4))

        async def produce() -> None:
            nonlocal emitted
            while True:
                due = min(int((loop.time() - started) * rate), emitted + burst)
                while emitted < due:
                    emitted += 1
                    self.logger.info("fault record %d", emitted, extra={"order_id": emitted})
                await asyncio.sleep(TICK)

        producer = asyncio.create_task(produce())
        try:
            while True:
                lags: list[float] = []
                on_cpu: list[float] = []
                window_end = time.perf_counter() + WINDOW
                first = emitted
                while time.perf_counter() < window_end:
                    expected = time.perf_counter() + SAMPLE
                    cpu = time.thread_time()
                    await asyncio.sleep(SAMPLE)
                    lag = max(0.0, time.perf_counter() - expected)
                    lags.append(lag * 1000)
                    on_cpu.append(min(lag, time.thread_time() - cpu) * 1000)
                outputs = {name: vars(stats) for name, stats in self.logging.statistics().items()}
                outputs["file"] = {"write_errors": file_write_errors()}
                window = {
                    "emitted": emitted - first,
                    "total": emitted,
                    "lag_p99_ms": round(p99(lags), 3),
                    "on_cpu_p99_ms": round(p99(on_cpu), 3),
                    "lags_ms": [round(x, 3) for x in lags],
                    "on_cpu_ms": [round(x, 3) for x in on_cpu],
                    "outputs": outputs,
                }
                print("WINDOW " + json.dumps(window), flush=True)
        finally:
            producer.cancel()


if __name__ == "__main__":
    LoggingService().run()
