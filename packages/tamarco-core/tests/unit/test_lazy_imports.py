"""What a service that uses neither etcd nor YAML does not pay for at start.

aetcd (with grpc) and PyYAML cost every service ~25 ms and ~12 MiB when imported eagerly
(benchmarks/service_lifecycle.py): they are imported on first use only.
"""

import subprocess
import sys

CHECK = """
import sys
from tamarco.core.microservice import Microservice

class Service(Microservice):
    name = "lazy_imports"

Service()
print(",".join(name for name in ("aetcd", "grpc", "yaml") if name in sys.modules))
"""


def test_a_service_without_etcd_or_yaml_does_not_import_them() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == ""
