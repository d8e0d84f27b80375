"""tamarco-harness: real services for functional tests (pytest plugin and CLI).

Start services directly::

    from tamarco.harness import Harness

    with Harness("local") as harness:
        etcd = harness.etcd
        print(etcd.host, etcd.port, etcd.env())

or, in pytest, use the fixtures of :mod:`tamarco.harness.pytest_plugin` (registered
automatically when the package is installed): ``etcd_service``, ``rabbitmq_service``,
``kafka_service``, ``kafka_durable_service``, ``redis_service``, ``prometheus_service``, ``carbon_service``,
``logstash_service``, ``otlp_collector`` (:class:`OTLPCollectorService`, an OTLP/HTTP trace
receiver whose spans a test reads back), ``etcd_cluster_service`` (:class:`EtcdClusterService`, three members)
and the isolation fixtures ``etcd_prefix``, ``rabbitmq_vhost``,
``kafka_topic``, ``unique_name``, ``free_port``.

:class:`ServiceProcess` runs a service script in a subprocess for a test (output, waits,
signals, exit code); :mod:`tamarco.harness.messaging_suite` is the shared messaging suite.
"""

from ._backend import BACKEND_VARIABLE, resolve_backend
from ._carbon import CarbonService
from ._errors import (
    BinaryNotFoundError,
    DockerUnavailableError,
    HarnessError,
    PortInUseError,
    ServiceStartError,
)
from ._etcd import EtcdService
from ._etcd_cluster import EtcdClusterService, EtcdMember
from ._harness import SERVICE_CLASSES, SERVICE_NAMES, Harness
from ._kafka import DurableKafkaService, KafkaService
from ._logstash import LogstashService
from ._otlp import OTLPCollectorService
from ._ports import free_port, port_is_bound
from ._prometheus import PrometheusService
from ._rabbitmq import RabbitMQService
from ._redis import RedisService
from ._service import Service
from ._service_process import ServiceProcess
from ._wait import WaitTimeout, wait_until

__all__ = [
    "BACKEND_VARIABLE",
    "SERVICE_CLASSES",
    "SERVICE_NAMES",
    "BinaryNotFoundError",
    "CarbonService",
    "DockerUnavailableError",
    "DurableKafkaService",
    "EtcdClusterService",
    "EtcdMember",
    "EtcdService",
    "Harness",
    "HarnessError",
    "KafkaService",
    "LogstashService",
    "OTLPCollectorService",
    "PortInUseError",
    "PrometheusService",
    "RabbitMQService",
    "RedisService",
    "Service",
    "ServiceProcess",
    "ServiceStartError",
    "WaitTimeout",
    "free_port",
    "port_is_bound",
    "resolve_backend",
    "wait_until",
]
