"""Application meters, exposed by the metrics resource (Prometheus at the report server's /metrics)."""

from tamarco.resources.basic.metrics import Counter

greetings = Counter("greetings", "greetings")
rejected_names = Counter("rejected_names", "names")
