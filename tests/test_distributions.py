"""Every distribution, built and installed as a user gets it from the index.

From a clean copy of the repository (the files git tracks, as they are in the working tree:
nothing untracked can leak into a build) each distribution's sdist is built, and its wheel
is built FROM that sdist (``python -m build``), as release.yml does; ``twine check`` passes on
all of them. Then each wheel is installed alone into a fresh venv, its dependencies from the
configured index and our own distributions only as the local wheels (``--find-links``), and
there: its public modules import from site-packages, only the tamarco distributions it
declares are installed, and its unit tests pass. tamarco-core is installed once bare (its
CLI, the error naming the extra to install) and once with its extras (its unit tests).
``pip install --dry-run 'tamarco[all]'`` resolves every tamarco distribution to our local
0.2.0 wheels (the index holds a 2020 ``tamarco`` 0.1.1), and in that installed set mypy checks
a small typed user module against our ``py.typed`` packages, and the README's first example
runs after the install line the README gives.

The venvs are made without pip (the workspace's pip installs into them with ``--python``) and
share pip's cache, and they are prepared two at a time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import pytest

# The module fixtures build every sdist and wheel and make venvs: minutes on a loaded 2-core
# machine, far past the default per-test timeout that the first test pays for them.
pytestmark = [pytest.mark.functional, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[1]
VERSION = "0.2.0"
#: distribution -> its directory in the repository.
DISTRIBUTIONS = {
    "tamarco-core": "packages/tamarco-core",
    "tamarco-http": "packages/tamarco-http",
    "tamarco-metrics": "packages/tamarco-metrics",
    "tamarco-status": "packages/tamarco-status",
    "tamarco-amqp": "packages/tamarco-amqp",
    "tamarco-kafka": "packages/tamarco-kafka",
    "tamarco": "packages/tamarco",
    "tamarco-harness": "harness",
}
CORE_EXTRAS = "tamarco-core[etcd,redis,logging-http,scaffold,pydantic,tracing]"
#: What the root pytest configuration needs (asyncio mode, timeout), at the workspace's versions.
TEST_TOOLS = [f"{tool}=={version(tool)}" for tool in ("pytest", "pytest-asyncio", "pytest-timeout")]
#: What a distribution's unit tests need beyond it and the test tools (the harness's check the
#: repository's compose file and workflows against their JSON schemas).
UNIT_TEST_NEEDS = {"tamarco-harness": [f"check-jsonschema=={version('check-jsonschema')}"]}

#: Run inside a venv: import every public module of the distributions given, from site-packages.
IMPORT_SCRIPT = r"""
import importlib, importlib.metadata as m, json, sys
result = {}
for name in sys.argv[1:]:
    for file in m.distribution(name).files or []:
        parts = file.parts
        if file.suffix != ".py" or not parts[0].startswith("tamarco") or parts[-1] == "__main__.py":
            continue
        if "templates" in parts:
            continue
        module = ".".join(parts[:-1] if parts[-1] == "__init__.py" else (*parts[:-1], file.stem))
        if any(part.startswith("_") for part in module.split(".")):
            continue
        try:
            imported = importlib.import_module(module)
            result[module] = None if "site-packages" in (imported.__file__ or "") else f"from {imported.__file__}"
        except Exception as error:
            result[module] = f"{type(error).__name__}: {error} (name={getattr(error, 'name', None)})"
print(json.dumps(result))
"""

TYPED_USER_MODULE = """\
from tamarco.codecs.json import JsonCodec
from tamarco.core.microservice import Microservice, task_timer
from tamarco.resources.bases import BaseResource, StatusCodes
from tamarco.resources.basic.metrics import Counter
from tamarco.resources.basic.status import StatusResource
from tamarco.resources.debug.profiler import ProfilerResource
from tamarco.resources.io.amqp import AMQPResource
from tamarco.resources.io.http.resource import HTTPServerResource
from tamarco.resources.io.kafka import KafkaResource


class Cache(BaseResource):
    async def status(self) -> dict[str, object]:
        return {"status": int(StatusCodes.STARTED)}


class Typed(Microservice):
    name = "typed"
    http_server = HTTPServerResource()
    amqp = AMQPResource()
    kafka = KafkaResource()
    cache = Cache()

    @task_timer(interval=1000)
    async def tick(self) -> None:
        Counter("ticks", "ticks").inc()


status: StatusResource = StatusResource()
profiler: ProfilerResource = ProfilerResource()
codec: type[JsonCodec] = JsonCodec
wrong: int = StatusCodes.STARTED.name  # mypy must see this: the packages are typed
"""


def _env() -> dict[str, str]:
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    return {key: value for key, value in os.environ.items() if key not in drop} | {"PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _run(command: list[str], cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False)


def _check(result: subprocess.CompletedProcess[str], what: str) -> str:
    assert result.returncode == 0, (
        f"{what} failed ({result.returncode}):\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    )
    return result.stdout


@dataclass
class Built:
    root: Path  # the clean copy
    dist: Path  # sdists and wheels
    sdists: dict[str, Path] = field(default_factory=dict)
    wheels: dict[str, Path] = field(default_factory=dict)

    def pip_install(self, venv: Path, *requirements: str) -> subprocess.CompletedProcess[str]:
        return _run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(venv / "bin" / "python"),
                "install",
                "-q",
                "--find-links",
                str(self.dist),
                *requirements,
            ],
            timeout=600,
        )


def _clean_copy(target: Path) -> Path:
    """The tracked files of the working tree (uncommitted edits included, untracked files not)."""
    listed = _check(_run(["git", "ls-files", "-z", "--cached"]), "git ls-files")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _build(root: Path, distribution: str, outdir: Path) -> subprocess.CompletedProcess[str]:
    # sdist first, then the wheel built from the unpacked sdist: what release.yml publishes.
    return _run([sys.executable, "-m", "build", "--outdir", str(outdir), str(root / DISTRIBUTIONS[distribution])])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    work = tmp_path_factory.mktemp("distributions")
    root = _clean_copy(work / "repo")
    result = Built(root=root, dist=work / "dist")
    with ThreadPoolExecutor(2) as pool:
        builds = dict(zip(DISTRIBUTIONS, pool.map(lambda d: _build(root, d, result.dist), DISTRIBUTIONS), strict=True))
    for distribution, build in builds.items():
        _check(build, f"python -m build {DISTRIBUTIONS[distribution]}")
        stem = distribution.replace("-", "_")
        result.sdists[distribution] = result.dist / f"{stem}-{VERSION}.tar.gz"
        result.wheels[distribution] = result.dist / f"{stem}-{VERSION}-py3-none-any.whl"
    return result


def _declared_tamarco(root: Path, distribution: str) -> set[str]:
    """``distribution`` and every tamarco distribution it depends on, recursively."""
    project = tomllib.loads((root / DISTRIBUTIONS[distribution] / "pyproject.toml").read_text())["project"]
    found = {distribution}
    for requirement in project.get("dependencies", []):
        name = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
        if name.startswith("tamarco") and name not in found:
            found |= _declared_tamarco(root, name)
    return found


def _unit_tests_use_the_harness(root: Path, distribution: str) -> bool:
    tests = root / DISTRIBUTIONS[distribution] / "tests"
    sources = [*tests.joinpath("unit").rglob("*.py"), *tests.glob("conftest.py")]
    return any("tamarco.harness" in path.read_text() for path in sources)


@dataclass
class Installed:
    venv: Path
    requirement: str
    distributions: set[str] = field(default_factory=set)  # the tamarco distributions installed
    imports: dict[str, str | None] = field(default_factory=dict)
    tests: subprocess.CompletedProcess[str] | None = None
    error: str | None = None  # what failed while installing it


def _venv(path: Path) -> Path:
    _check(_run([sys.executable, "-m", "venv", "--without-pip", str(path)]), f"venv {path}")
    return path


def _installed_tamarco(venv: Path) -> set[str]:
    script = (
        "import importlib.metadata as m\n"
        "print('\\n'.join({d.metadata['Name'] for d in m.distributions() if d.metadata['Name'].startswith('tamarco')}))"
    )
    return set(_check(_run([str(venv / "bin" / "python"), "-c", script]), "list distributions").split())


def _install_alone(built: Built, work: Path, distribution: str) -> Installed:
    """``distribution`` alone (core: with its extras) in a fresh venv, then its unit tests."""
    venv = work / distribution
    requirement = f"{distribution}=={VERSION}" if distribution != "tamarco-core" else f"{CORE_EXTRAS}=={VERSION}"
    try:
        return _install_and_test(built, work, distribution, venv, requirement)
    except AssertionError as error:  # reported by this distribution's test, not by every one
        return Installed(venv, requirement, error=str(error))


def _install_and_test(built: Built, work: Path, distribution: str, venv: Path, requirement: str) -> Installed:
    _venv(venv)
    requirements = [requirement, *TEST_TOOLS, *UNIT_TEST_NEEDS.get(distribution, [])]
    if distribution != "tamarco-harness" and _unit_tests_use_the_harness(built.root, distribution):
        requirements.append(f"tamarco-harness=={VERSION}")
    _check(built.pip_install(venv, *requirements), f"pip install {' '.join(requirements)}")
    script = _run([str(venv / "bin" / "python"), "-c", IMPORT_SCRIPT, distribution], cwd=work)
    imports = json.loads(_check(script, f"importing {distribution}'s modules"))
    tests = None
    unit = built.root / DISTRIBUTIONS[distribution] / "tests" / "unit"
    if unit.is_dir():
        command = [
            str(venv / "bin" / "python"),
            "-m",
            "pytest",
            str(unit.relative_to(built.root)),
            "-q",
            "-p",
            "no:cacheprovider",
        ]
        tests = _run(command, cwd=built.root, timeout=600)
    return Installed(venv, requirement, _installed_tamarco(venv), imports, tests)


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Installed]:
    work = tmp_path_factory.mktemp("venvs")
    alone = [d for d in DISTRIBUTIONS if d != "tamarco"]
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(alone, pool.map(lambda d: _install_alone(built, work, d), alone), strict=True))


@pytest.fixture(scope="module")
def bare_core(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = _venv(tmp_path_factory.mktemp("bare") / "core")
    _check(built.pip_install(venv, f"tamarco-core=={VERSION}"), "pip install tamarco-core")
    return venv


@pytest.fixture(scope="module")
def full(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tamarco[all]`` from the local wheels, and mypy."""
    venv = _venv(tmp_path_factory.mktemp("full") / "all")
    _check(built.pip_install(venv, f"tamarco[all]=={VERSION}", f"mypy=={version('mypy')}"), "pip install tamarco[all]")
    return venv


# -- building ---------------------------------------------------------------------------------


def test_every_sdist_and_wheel_builds_and_twine_check_passes(built: Built) -> None:
    files = sorted(built.dist.iterdir())
    assert set(files) == {*built.sdists.values(), *built.wheels.values()}, [f.name for f in files]
    _check(_run([sys.executable, "-m", "twine", "check", "--strict", *map(str, files)]), "twine check")


def test_core_carries_the_project_template_in_its_sdist_and_wheel(built: Built) -> None:
    import tarfile
    import zipfile

    with tarfile.open(built.sdists["tamarco-core"]) as sdist:
        assert f"tamarco_core-{VERSION}/templates/microservice/cookiecutter.json" in sdist.getnames()
    with zipfile.ZipFile(built.wheels["tamarco-core"]) as wheel:
        templates = [name for name in wheel.namelist() if "/templates/" in name]
        assert templates == ["tamarco/cli/templates/microservice.zip"], templates  # pip byte-compiles no template
        with zipfile.ZipFile(wheel.open(templates[0])) as template:
            assert "microservice/cookiecutter.json" in template.namelist()


def test_every_distribution_ships_its_license_and_metadata(built: Built) -> None:
    import zipfile

    for distribution, wheel_path in built.wheels.items():
        stem = f"{distribution.replace('-', '_')}-{VERSION}.dist-info"
        with zipfile.ZipFile(wheel_path) as wheel:
            assert f"{stem}/licenses/LICENSE" in wheel.namelist(), distribution
            metadata = wheel.read(f"{stem}/METADATA").decode()
        assert "License-Expression: MIT" in metadata, distribution
        assert "Project-URL: Source, https://" in metadata, distribution
        assert "Author-email: " in metadata, distribution
        description = metadata.partition("\n\n")[2]
        assert len(description.splitlines()) > 10, f"{distribution}'s README is a stub"
        links = re.findall(r"\]\(([^)]+)\)", description)
        relative = [link for link in links if not link.startswith(("https://", "http://", "#"))]
        assert not relative, f"{distribution}'s README has links that break on the index page: {relative}"
        for requirement in re.findall(r"^Requires-Dist: (tamarco[^\s;]*.*)$", metadata, flags=re.M):
            assert f">={VERSION}" in requirement, f"{distribution}: {requirement} has no lower bound"


def test_the_wheels_cover_every_public_package_with_py_typed(built: Built) -> None:
    import zipfile

    for distribution, wheel_path in built.wheels.items():
        with zipfile.ZipFile(wheel_path) as wheel:
            names = wheel.namelist()
        typed = {name.rsplit("/", 1)[0] for name in names if name.endswith("/py.typed")}
        for name in names:
            if name.startswith("tamarco") and name.endswith(".py") and "/templates/" not in name:
                parents = name.split("/")[:-1]
                covered = any("/".join(parents[:depth]) in typed for depth in range(1, len(parents) + 1))
                assert covered, f"{name} in {distribution} is under no py.typed"


# -- installing each alone --------------------------------------------------------------------


@pytest.mark.parametrize("distribution", [d for d in DISTRIBUTIONS if d != "tamarco"])
def test_each_wheel_alone_imports_and_passes_its_unit_tests(
    built: Built, installed: dict[str, Installed], distribution: str
) -> None:
    result = installed[distribution]
    assert result.error is None, result.error
    expected = _declared_tamarco(built.root, distribution)
    if distribution != "tamarco-harness" and _unit_tests_use_the_harness(built.root, distribution):
        expected |= _declared_tamarco(built.root, "tamarco-harness")
    assert result.distributions == expected, f"{result.requirement} installed {result.distributions}"
    assert result.imports, f"no public module found in {distribution}"
    failed = {module: error for module, error in result.imports.items() if error}
    assert not failed, f"{distribution}: modules that do not import from site-packages: {failed}"
    plugin = distribution.removeprefix("tamarco-")
    if plugin in ("amqp", "kafka"):  # the 0.1 import paths ship in the plugin's wheel
        assert {f"tamarco_{plugin}.{module}" for module in ("resource", "input", "output")} <= set(result.imports)
    assert result.tests is not None, f"{distribution} has no unit tests"
    output = f"{result.tests.stdout[-6000:]}\n{result.tests.stderr[-3000:]}"
    assert result.tests.returncode == 0, f"{distribution}'s unit tests with the wheel alone:\n{output}"
    assert " passed" in result.tests.stdout


def test_core_alone_is_slim_and_names_the_extra_to_install(built: Built, bare_core: Path) -> None:
    python = str(bare_core / "bin" / "python")
    assert _installed_tamarco(bare_core) == {"tamarco-core"}
    packages = _check(_run([sys.executable, "-m", "pip", "--python", python, "list", "--format=json"]), "pip list")
    names = {package["name"].lower() for package in json.loads(packages)}
    assert names <= {"tamarco-core", "pyyaml"}, f"tamarco-core alone pulls {sorted(names)}"

    imports = json.loads(_check(_run([python, "-c", IMPORT_SCRIPT, "tamarco-core"]), "importing core"))
    for module in (
        "tamarco.core.microservice",
        "tamarco.core.settings.settings",
        "tamarco.resources.bases",
        "tamarco.core.logging.logging",
        "tamarco.codecs",
        "tamarco.cli.main",
        "tamarco.core.etcd",
    ):
        assert imports.pop(module) is None, module
    needs_etcd = {module for module, error in imports.items() if error and "name=aetcd" in error}
    assert needs_etcd == {"tamarco.core.settings.backends.etcd"}, imports
    assert not {module: error for module, error in imports.items() if error and module not in needs_etcd}

    tamarco = str(bare_core / "bin" / "tamarco")
    assert _check(_run([tamarco, "version"]), "tamarco version").split() == ["tamarco-core", VERSION]
    assert _check(_run([tamarco, "--version"]), "tamarco --version").split() == ["tamarco-core", VERSION]
    scaffold = _run([tamarco, "start_project", "--no-input", "--output-dir", str(bare_core.parent)])
    assert scaffold.returncode == 1 and "pip install 'tamarco-core[scaffold]'" in scaffold.stderr, scaffold.stderr
    etcd = _run([tamarco, "etcd", "read", "system", "--host", "127.0.0.1", "--port", "1"])
    assert etcd.returncode == 1 and "pip install 'tamarco-core[etcd]'" in etcd.stderr, etcd.stderr
    settings = (
        "import asyncio, os\n"
        "from tamarco.core.microservice import MicroserviceContext\n"
        "os.environ['TAMARCO_ETCD_HOST'] = '127.0.0.1'\n"
        "async def main():\n"
        "    async with MicroserviceContext():\n"
        "        pass\n"
        "asyncio.run(main())\n"
    )
    service = _run([python, "-c", settings], timeout=60)
    assert service.returncode != 0 and "pip install 'tamarco-core[etcd]'" in service.stderr, service.stderr[-3000:]


# -- the full set -------------------------------------------------------------------------------


def test_tamarco_all_resolves_to_our_local_wheels_only(built: Built, tmp_path: Path) -> None:
    venv = _venv(tmp_path / "dry-run")
    report = tmp_path / "report.json"
    _check(
        built.pip_install(venv, "--dry-run", "--ignore-installed", "--report", str(report), "tamarco[all]"),
        "pip install --dry-run tamarco[all]",
    )
    resolved = {
        item["metadata"]["name"]: (item["metadata"]["version"], item["download_info"]["url"])
        for item in json.loads(report.read_text())["install"]
    }
    ours = {name: found for name, found in resolved.items() if name.startswith("tamarco")}
    assert set(ours) == set(DISTRIBUTIONS) - {"tamarco-harness"}, sorted(resolved)
    for name, (found_version, url) in ours.items():
        assert found_version == VERSION, f"{name} resolved to {found_version} ({url})"
        assert url.startswith("file://") and url.startswith(built.dist.as_uri()), f"{name} from {url}"
    for extra in (
        "aetcd",
        "grpcio",
        "redis",
        "cookiecutter",
        "aiohttp",
        "sanic",
        "aio-pika",
        "aiokafka",
        "opentelemetry-sdk",
    ):
        assert extra in resolved, f"tamarco[all] lacks {extra}"


def test_mypy_sees_our_types_in_a_users_module(full: Path, tmp_path: Path) -> None:
    module = tmp_path / "user_service.py"
    module.write_text(TYPED_USER_MODULE)
    result = _run(
        [str(full / "bin" / "python"), "-m", "mypy", "--strict", "--no-incremental", str(module)], cwd=tmp_path
    )
    lines = [line for line in result.stdout.splitlines() if ": error:" in line]
    # The one deliberate error, and no "missing library stubs or py.typed marker".
    wrong = next(n for n, line in enumerate(TYPED_USER_MODULE.splitlines(), 1) if line.startswith("wrong: int"))
    assert len(lines) == 1, result.stdout
    assert f"user_service.py:{wrong}:" in lines[0] and "Incompatible types" in lines[0], result.stdout
    assert "py.typed" not in result.stdout and "import-untyped" not in result.stdout


def test_start_project_works_from_the_installed_wheels(full: Path, tmp_path: Path) -> None:
    tamarco = str(full / "bin" / "tamarco")
    command = [tamarco, "start_project", "--no-input", "--set", "project_name=from_wheel", "--output-dir", "."]
    _check(_run(command, cwd=tmp_path, timeout=120), "tamarco start_project")
    assert (tmp_path / "from_wheel" / "from_wheel" / "microservice.py").is_file()
    assert not list((tmp_path / "from_wheel").rglob("__pycache__"))


def test_tamarco_version_lists_the_full_set(full: Path) -> None:
    output = _check(_run([str(full / "bin" / "tamarco"), "version"]), "tamarco version")
    expected = sorted(set(DISTRIBUTIONS) - {"tamarco-harness"})
    assert output.splitlines() == [f"{name} {VERSION}" for name in expected]


def test_the_readme_example_runs_after_the_readme_install_line(built: Built, full: Path, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    install = re.search(r"^pip install '([^']+)'", readme, flags=re.M)
    assert install, "README.md gives no install line"
    requirement = install.group(1)
    assert requirement == f"tamarco>={VERSION}", requirement
    venv = _venv(tmp_path / "readme")
    _check(built.pip_install(venv, requirement), f"pip install {requirement}")
    code = re.search(r"```python\n(.*?)```", readme, flags=re.S)
    settings = re.search(r"```yaml\n(.*?)```", readme, flags=re.S)
    assert code and settings
    (tmp_path / "hello.py").write_text(code.group(1))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (tmp_path / "settings.yml").write_text(
        settings.group(1).replace("port: 8080", f"port: {port}").replace("port: 5747", "port: 0")
    )
    env = _env() | {"TAMARCO_YML_FILE": "settings.yml"}
    with subprocess.Popen(
        [str(venv / "bin" / "python"), "hello.py"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        body = None
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                        body = response.read().decode()
                        break
                except OSError:
                    time.sleep(0.1)  # polling until the server listens
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=60)
    assert body == "Hello world!", output[-4000:]
    assert process.returncode == 0, output[-4000:]
