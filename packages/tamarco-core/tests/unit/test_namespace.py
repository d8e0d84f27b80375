"""The PEP 420 namespace must stay open: no distribution may ship a shared-level __init__.py."""

import importlib.util
from pathlib import Path

SHARED_LEVELS = [
    "tamarco",
    "tamarco/resources",
    "tamarco/resources/io",
    "tamarco/resources/basic",
    "tamarco/resources/debug",
]


def test_no_shared_level_init_in_any_package():
    root = Path(__file__).resolve().parents[4]
    offenders = []
    for src in [*root.glob("packages/*/src"), root / "harness" / "src"]:
        for level in SHARED_LEVELS:
            candidate = src / level / "__init__.py"
            if candidate.exists():
                offenders.append(str(candidate.relative_to(root)))
    assert offenders == []


def test_installed_namespace_has_no_init():
    spec = importlib.util.find_spec("tamarco")
    assert spec is not None
    assert spec.origin in (None, "namespace")
    # One location per editable install, or one site-packages/tamarco for wheels: none with an __init__.
    locations = list(spec.submodule_search_locations)
    assert locations
    assert not [location for location in locations if (Path(location) / "__init__.py").exists()]
