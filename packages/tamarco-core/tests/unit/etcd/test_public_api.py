"""``tamarco.core.etcd`` is the one door to etcd: a small public API, cheap to import, and no
other module reaches into its private modules."""

import ast
import pathlib
import subprocess
import sys

import tamarco.core.etcd as etcd

SOURCES = pathlib.Path(__file__).resolve().parents[4]  # packages/
PACKAGE = SOURCES / "tamarco-core" / "src" / "tamarco" / "core" / "etcd"


def test_every_exported_name_exists():
    assert sorted(etcd.__all__) == sorted(set(etcd.__all__))
    for name in etcd.__all__:
        assert getattr(etcd, name) is not None, name
    assert set(etcd.__all__) <= set(dir(etcd))


def test_an_unknown_name_is_an_attribute_error_naming_it():
    try:
        etcd.NoSuchThing  # noqa: B018
    except AttributeError as error:
        assert "NoSuchThing" in str(error)
    else:  # pragma: no cover
        raise AssertionError("no AttributeError")


IMPORT_CHECK = """
import sys
import tamarco.core.etcd as etcd
config = etcd.EtcdConnectionConfig.from_environment({"TAMARCO_ETCD_HOST": "h", "TAMARCO_ETCD_PREFIX": "ns"})
assert etcd.etcd_key("system.a", config.namespace) == b"/ns/system/a"
before = ",".join(name for name in ("aetcd", "grpc") if name in sys.modules)
etcd.TamarcoEtcdClient
after = ",".join(name for name in ("aetcd", "grpc") if name in sys.modules)
print(before + "|" + after)
"""


def test_config_and_mapping_do_not_import_aetcd_the_client_does():
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "|aetcd,grpc"


def _private_etcd_imports(path: pathlib.Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        for module in modules:
            if module.startswith("tamarco.core.etcd._") or module.startswith("tamarco.core.settings.backends._etcd"):
                found.append(f"{path.relative_to(SOURCES)}:{node.lineno} imports {module}")
    return found


def test_no_module_outside_the_package_imports_its_private_modules():
    offenders = []
    for path in sorted(SOURCES.glob("*/src/**/*.py")):
        if PACKAGE not in path.parents:
            offenders.extend(_private_etcd_imports(path))
    assert offenders == [], "use tamarco.core.etcd's public API:\n" + "\n".join(offenders)
