"""Application meters, exposed by the metrics resource (Prometheus at /metrics)."""

from tamarco.resources.basic.metrics import Counter

heartbeats = Counter("heartbeats", "beats")
