"""Which image the docker backend runs for each service.

``TAMARCO_HARNESS_IMAGE_<SERVICE>`` (``ETCD``, ``RABBITMQ``, ``REDIS``, ``PROMETHEUS``,
``CARBON``, ``KAFKA``, ``KAFKA_DURABLE``, ``LOGSTASH``) names an image, e.g. behind a registry mirror; else the
pytest ini option ``harness_image_<service>``; else the official upstream image below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

IMAGE_VARIABLE_PREFIX = "TAMARCO_HARNESS_IMAGE_"

#: The official images the docker backend runs unless told otherwise.
DEFAULT_IMAGES: dict[str, str] = {
    "etcd": "quay.io/coreos/etcd:v3.5.17",
    "rabbitmq": "rabbitmq:3.13-alpine",
    "redis": "redis:7-alpine",
    "prometheus": "prom/prometheus:v2.54.1",
    "carbon": "graphiteapp/graphite-statsd:1.1.10-5",
    "kafka": "apache/kafka:3.8.1",
    # Apache Kafka keeps its log in the container: durable over restart() (the local tansu image
    # keeps it in memory, so it is no stand-in for this one).
    "kafka_durable": "apache/kafka:3.8.1",
    "logstash": "docker.elastic.co/logstash/logstash:8.15.3",
}


def image_variable(service: str) -> str:
    """The environment variable naming the image of ``service``."""
    return IMAGE_VARIABLE_PREFIX + service.upper()


def image_for(service: str, configured: Mapping[str, str] | None = None) -> str:
    """The image of ``service``: its variable, else ``configured[service]``, else the default."""
    chosen = os.environ.get(image_variable(service), "").strip() or (configured or {}).get(service, "").strip()
    return chosen or DEFAULT_IMAGES.get(service, "")
