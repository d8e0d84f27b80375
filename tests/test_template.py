"""The done-when of the project template: a project generated with ``--no-input`` installs in a
fresh venv with the local distributions, passes its own unit and functional tests (harness),
has a sound container context and valid Kubernetes manifests, and its ``app.py`` serves, is
ready, and stops with exit code 0 on SIGTERM.

No Docker engine answers here: the Dockerfile and .dockerignore are checked statically (the
generated project's CI workflow builds the image). The manifests are validated with
check-jsonschema against the Kubernetes JSON schemas shipped by the kubernetes-validate package.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import jsonschema
import pytest
import yaml
from tamarco.harness import ServiceProcess

pytestmark = pytest.mark.functional

ROOT = Path(__file__).resolve().parents[1]
LOCAL_DISTRIBUTIONS = [
    "packages/tamarco-core",
    "packages/tamarco-metrics",
    "packages/tamarco-status",
    "packages/tamarco-http",
    "packages/tamarco",
    "harness",
]
KUBERNETES_VERSION = "v1.37.0-local-strict"
SCHEMAS = {
    "Deployment": "deployment-apps-v1",
    "Service": "service-v1",
    "ConfigMap": "configmap-v1",
    "NetworkPolicy": "networkpolicy-networking-v1",
}


def run(args, **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{shlex.join(map(str, args))}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    tamarco = Path(sys.executable).with_name("tamarco")
    run([tamarco, "start_project", "--no-input", "--output-dir", out], timeout=60)
    return out / "my_microservice"


@pytest.fixture(scope="module")
def venv_python(project, tmp_path_factory) -> Path:
    """A fresh venv: the local distributions (editable) and the project with its test extra."""
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", venv], timeout=120)
    python = venv / "bin" / "python"
    editable = [arg for path in LOCAL_DISTRIBUTIONS for arg in ("-e", str(ROOT / path))]
    run([python, "-m", "pip", "install", "-q", *editable, "-e", f"{project}[test]"], timeout=400)
    return python


def test_nothing_compiled_or_unrendered_is_generated(project):
    assert not list(project.rglob("__pycache__")) and not list(project.rglob("*.pyc"))
    for path in project.rglob("*"):
        if path.is_file():
            assert "{{ cookiecutter" not in path.read_text(), path


def test_its_unit_and_functional_tests_pass_in_a_fresh_venv(project, venv_python):
    result = run(
        [venv_python, "-m", "pytest", "-v", "-p", "no:cacheprovider"],
        cwd=project,
        timeout=240,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert re.search(r"tests/functional/test_service.py::test_greeting_route_and_metrics PASSED", result.stdout)
    assert re.search(r"tests/unit/test_greetings.py::\S+ PASSED", result.stdout)
    assert "tests/unit/test_contract.py::test_the_typed_handler_is_in_the_openapi_document PASSED" in result.stdout


def test_its_contract_is_generated_without_starting_it(project, venv_python):
    """``make contract``'s commands in the fresh venv: both documents, valid (official schemas)."""
    tamarco = venv_python.with_name("tamarco")
    slug = project.name
    for command in ("openapi", "asyncapi"):
        run(
            [tamarco, command, f"{slug}.microservice:MyMicroservice", "-o", f"{command}.json"], cwd=project, timeout=120
        )
    schemas = ROOT / "tests" / "contracts" / "schemas"
    openapi = json.loads((project / "openapi.json").read_text())
    jsonschema.Draft202012Validator(json.loads((schemas / "openapi-3.1.json").read_text())).validate(openapi)
    assert "GreetingRequest" in openapi["components"]["schemas"]
    asyncapi = json.loads((project / "asyncapi.json").read_text())
    jsonschema.Draft7Validator(json.loads((schemas / "asyncapi-3.0.0.json").read_text())).validate(asyncapi)


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether .dockerignore patterns exclude ``relative`` (or a folder above it)."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        for candidate in candidates:
            if fnmatch.fnmatch(candidate, pattern) or (
                pattern.startswith("**/") and fnmatch.fnmatch(candidate.split("/")[-1], pattern[3:])
            ):
                return True
    return False


def test_container_context_is_sound(project):
    """Statically: multi-stage, non-root, EXPOSE, HEALTHCHECK on /health/live, settings on
    0.0.0.0, every COPY source in the context, and .venv/caches/tests kept out of it."""
    instructions = dockerfile_instructions((project / "Dockerfile").read_text())
    stages = [args for op, args in instructions if op == "FROM"]
    assert len(stages) == 2 and " AS build" in stages[0]
    final = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM") :]
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    exposed = {port for op, args in final if op == "EXPOSE" for port in args.split()}
    assert exposed == {"8080", "5747"}
    (healthcheck,) = [args for op, args in final if op == "HEALTHCHECK"]
    assert "/health/live" in healthcheck and ":5747" in healthcheck
    env = " ".join(args for op, args in final if op == "ENV")
    assert "TAMARCO_YML_FILE=/app/deploy/settings.yml" in env
    settings = yaml.safe_load((project / "deploy/settings.yml").read_text())["system"]["resources"]
    assert settings["tamarco_http_report_server"] == {"host": "0.0.0.0", "port": 5747}
    assert settings["api"] == {"host": "0.0.0.0", "port": 8080}

    lines = (project / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip()[:1] not in ("", "#")]
    for path in (".venv/lib/python3.11/site.py", ".git/HEAD", "my_microservice/__pycache__/x.pyc", "tests/unit"):
        assert ignored(path, patterns), path
    for op, args in instructions:
        if op == "COPY" and "--from=" not in args:
            *sources, _ = args.split()
            for source in sources:
                assert (project / source).exists(), source
                assert not ignored(source.rstrip("/"), patterns), source


@pytest.fixture(scope="module")
def kubernetes_schemas(tmp_path_factory) -> Path:
    """The schemas of kubernetes-validate, their shared definitions referenced by a file URI."""
    import kubernetes_validate

    shipped = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / KUBERNETES_VERSION
    schemas = tmp_path_factory.mktemp("k8s-schemas")
    definitions = schemas / "_definitions.json"
    for name in [*SCHEMAS.values(), "_definitions"]:
        text = (shipped / f"{name}.json").read_text()
        (schemas / f"{name}.json").write_text(text.replace('"/api/_definitions.json', f'"{definitions.as_uri()}'))
    return schemas


def rendered_manifests(project: Path) -> list[dict]:
    """``kubectl kustomize deploy/``: the manifests with the ConfigMap generated from
    deploy/settings.yml (the one source of the settings)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    rendered = run([kubectl, "kustomize", project / "deploy"], timeout=60).stdout
    return [document for document in yaml.safe_load_all(rendered) if document]


def test_kubernetes_manifests_validate_and_agree(project, kubernetes_schemas, tmp_path):
    manifests = {}
    for index, document in enumerate(rendered_manifests(project)):
        path = tmp_path / f"{index}-{document['kind']}.yaml"
        path.write_text(yaml.safe_dump(document))
        schema = kubernetes_schemas / f"{SCHEMAS[document['kind']]}.json"
        check = Path(sys.executable).with_name("check-jsonschema")
        run([check, "--schemafile", schema, path], timeout=60)
        manifests[document["kind"]] = document
    assert set(manifests) == set(SCHEMAS)

    pod = manifests["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "report"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "report"}
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == ports["report"]
    # One source: the ConfigMap holds deploy/settings.yml as it is, and the Deployment mounts it.
    config_map = manifests["ConfigMap"]
    assert config_map["data"]["settings.yml"] == (project / "deploy/settings.yml").read_text()
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    assert volumes["settings"]["configMap"]["name"] == config_map["metadata"]["name"]
    settings = yaml.safe_load(config_map["data"]["settings.yml"])["system"]
    assert settings["resources"]["tamarco_http_report_server"]["host"] == "0.0.0.0"
    assert settings["resources"]["api"]["port"] == ports["http"]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    assert grace > settings["shutdown_timeout_seconds"] + int(pre_stop[1])
    mount = container["volumeMounts"][0]["mountPath"]
    assert {"name": "TAMARCO_YML_FILE", "value": f"{mount}/settings.yml"} in container["env"]
    target_ports = {port["targetPort"] for port in manifests["Service"]["spec"]["ports"]}
    assert target_ports <= set(ports)
    assert_restricted_pod_security(pod["spec"])
    assert_network_policy_admits_only_the_api_and_monitoring(manifests["NetworkPolicy"], pod, ports)


def assert_restricted_pod_security(spec: dict) -> None:
    """The Kubernetes "restricted" Pod Security Standard (v1.25+), control by control."""
    pod = spec.get("securityContext", {})
    assert pod.get("runAsNonRoot") is True and pod.get("runAsUser", 1) != 0
    assert pod.get("seccompProfile", {}).get("type") in ("RuntimeDefault", "Localhost")
    assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
    allowed_volumes = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim"}
    allowed_volumes |= {"projected", "secret"}
    for volume in spec.get("volumes", []):
        assert set(volume) - {"name"} <= allowed_volumes, volume
    writable = set()
    for container in spec["containers"]:
        context = container.get("securityContext", {})
        assert context.get("allowPrivilegeEscalation") is False
        assert context.get("capabilities", {}).get("drop") == ["ALL"]
        assert not context.get("capabilities", {}).get("add")
        assert not context.get("privileged")
        assert context.get("runAsNonRoot", True) is not False and context.get("runAsUser", 1) != 0
        assert context.get("readOnlyRootFilesystem") is True
        assert all("hostPort" not in port for port in container.get("ports", []))
        writable |= {mount["mountPath"] for mount in container["volumeMounts"] if not mount.get("readOnly")}
    assert "/tmp" in writable and {v["name"] for v in spec["volumes"] if "emptyDir" in v} == {"tmp"}


def assert_network_policy_admits_only_the_api_and_monitoring(policy: dict, pod: dict, ports: dict) -> None:
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert spec["policyTypes"] == ["Ingress"]
    open_ports = [rule for rule in spec["ingress"] if "from" not in rule]
    assert [port["port"] for rule in open_ports for port in rule["ports"]] == ["http"]  # the API only
    (report,) = [rule for rule in spec["ingress"] if "from" in rule]
    assert [port["port"] for port in report["ports"]] == ["report"]
    assert all(peer.get("podSelector", {}).get("matchLabels") for peer in report["from"])
    assert {"http", "report"} <= set(ports)


def test_app_serves_is_ready_and_stops_on_sigterm(project, venv_python):
    settings = yaml.safe_load((project / "settings.yml").read_text())
    for resource in ("api", "tamarco_http_report_server"):
        settings["system"]["resources"][resource]["port"] = 0
    with ServiceProcess([venv_python, "app.py"], settings=settings, cwd=project) as service:
        api = service.wait_for(r"HTTP server api listening on (http://\S+)").group(1)
        report = service.wait_for(r"report server listening on (http://\S+)").group(1)
        with urllib.request.urlopen(f"{api}/greetings/Ada", timeout=5) as response:
            assert json.load(response) == {"message": "Hello, Ada!"}
        with urllib.request.urlopen(f"{report}/health/ready", timeout=5) as response:
            assert response.status == 200
        code, output = service.terminate(), service.output
    assert code == 0, output
    assert "lifecycle: stopped (exit code 0)" in output


def test_ci_workflow_is_a_valid_github_workflow_running_the_tests(project):
    workflow = project / ".github/workflows/ci.yml"
    check = Path(sys.executable).with_name("check-jsonschema")
    run([check, "--builtin-schema", "vendor.github-workflows", workflow], timeout=60)
    jobs = yaml.safe_load(workflow.read_text())["jobs"].values()
    steps = [step.get("run", "") for job in jobs for step in job["steps"]]
    assert "make test EXTRAS=test,docker" in steps and "make docker" in steps and "make contract" in steps
    [test] = [job for job in jobs if "matrix" in job.get("strategy", {})]
    assert test["strategy"]["matrix"]["python-version"] == ["3.11", "3.12", "3.13", "3.14"]
