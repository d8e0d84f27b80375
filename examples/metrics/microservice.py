"""The 0.1 documentation's metrics examples inside a service: a counter, counters as
decorators of functions and coroutines, a gauge, a summary timer and a labelled counter.
Metrics are served by Prometheus at the report server's /metrics.
"""

from tamarco.core.microservice import Microservice, task_timer
from tamarco.resources.basic.metrics import Counter, Gauge, Summary

cats_counter = Counter("cats", "animals")
meows_counter = Counter("meows", "sounds")
jumps_counter = Counter("jumps", "actions")
ws_connections_metric = Gauge("websocket_connections", "connections")
request_processing_time = Summary("http_requests_processing_time", "time")
http_requests_ok = Counter("http_requests", "requests", labels={"status_code": 200})


class Cat:
    def __init__(self):
        cats_counter.inc()

    @meows_counter
    def meow(self):
        return "meow"

    @jumps_counter
    async def jump(self):
        return "jump"


class MetricsExample(Microservice):
    name = "metrics_example"

    @task_timer(interval=1000, autostart=True)
    async def play(self):
        cat = Cat()
        cat.meow()
        await cat.jump()
        with request_processing_time.timeit():
            http_requests_ok.inc()
        ws_connections_metric.inc()
        self.logger.info("cats so far: %d", int(cats_counter.current_value()))


if __name__ == "__main__":
    MetricsExample().run()
