"""A service that registers itself (settings come from etcd: TAMARCO_ETCD_* variables)."""

from tamarco.core.microservice import Microservice
from tamarco.resources.basic.registry import Registry


class RegisteredService(Microservice):
    name = "killed_service"
    use_default_resources = False
    registry = Registry()


if __name__ == "__main__":
    RegisteredService().run()
