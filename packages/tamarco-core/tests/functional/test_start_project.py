"""`tamarco start_project`: what it writes, what it refuses, and that nothing compiled is copied.

The generated project's own tests, container context, manifests and app run are checked in
tests/test_template.py at the repository root (a fresh venv with the local distributions).
"""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tamarco.cli import start_project
from tamarco.cli.main import main


def generate(tmp_path, *options):
    return main(["start_project", "--no-input", "--output-dir", str(tmp_path), *options])


def test_start_project_writes_a_project_whose_python_parses(tmp_path):
    assert generate(tmp_path, "--set", "project_name=billing-api", "--set", "full_name=Ada") == 0
    project = tmp_path / "billing-api"
    for relative in [
        "app.py",
        "settings.yml",
        "deploy/settings.yml",
        "pyproject.toml",
        "Makefile",
        "Dockerfile",
        ".dockerignore",
        "README.md",
        "deploy/k8s/deployment.yaml",
        "deploy/k8s/service.yaml",
        "deploy/kustomization.yaml",
        "deploy/k8s/networkpolicy.yaml",
        ".github/workflows/ci.yml",
        "tests/unit/test_greetings.py",
        "tests/functional/test_service.py",
        "billing_api/logic/greetings.py",
    ]:
        assert (project / relative).is_file(), relative
    assert (project / "billing_api" / "microservice.py").read_text().count('name = "billing_api"') == 1
    for source in project.rglob("*.py"):
        ast.parse(source.read_text(), filename=str(source))
    assert "{{ cookiecutter" not in "".join(path.read_text() for path in project.rglob("*") if path.is_file())
    assert (
        'dependencies = ["tamarco>=0.2.0", "tamarco-core[pydantic]>=0.2.0"]' in (project / "pyproject.toml").read_text()
    )
    assert "name: billing-api" in (project / "deploy/k8s/deployment.yaml").read_text()


def test_unit_tests_of_the_generated_project_pass(tmp_path):
    assert generate(tmp_path) == 0
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:tamarco_harness", "tests/unit"],
        cwd=tmp_path / "my_microservice",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "6 passed" in tests.stdout


def test_compiled_files_of_the_template_are_not_copied(tmp_path, monkeypatch):
    """pip byte-compiles the template shipped in the wheel: its __pycache__ must stay behind."""
    template = tmp_path / "template"
    shutil.copytree(start_project.template_path(), template)
    compiled = template / "{{cookiecutter.project_name}}" / "{{cookiecutter.project_slug}}" / "__pycache__"
    compiled.mkdir()
    (compiled / "microservice.cpython-311.pyc").write_bytes(b"\x00")
    (template / "{{cookiecutter.project_name}}" / "stray.pyc").write_bytes(b"\x00")
    monkeypatch.setattr(start_project, "template_path", lambda: template)
    out = tmp_path / "out"
    assert generate(out) == 0
    project = out / "my_microservice"
    assert (project / "my_microservice" / "microservice.py").is_file()
    assert not list(project.rglob("__pycache__")) and not list(project.rglob("*.pyc"))


def test_a_zipped_template_is_used(tmp_path, monkeypatch):
    """A wheel may ship the template as a zip (pip byte-compiles no file inside it)."""
    archive = Path(
        shutil.make_archive(
            str(tmp_path / "microservice"), "zip", start_project.template_path().parent, start_project.TEMPLATE_NAME
        )
    )
    monkeypatch.setattr(start_project, "template_path", lambda: archive)
    out = tmp_path / "out"
    assert generate(out, "--set", "project_name=zipped") == 0
    assert (out / "zipped" / "zipped" / "microservice.py").read_text().count('name = "zipped"') == 1


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("2fa-service", "not a Python identifier"),
        ("billing.api", "not a Python identifier"),
        ("class", "a Python keyword"),
        ("a/b", "cannot name a directory"),
    ],
)
def test_invalid_names_are_refused_before_anything_is_written(tmp_path, capsys, name, reason):
    assert generate(tmp_path, "--set", f"project_name={name}") == 1
    error = capsys.readouterr().err
    assert reason in error and repr(name) in error, error
    assert list(tmp_path.iterdir()) == []


def test_an_explicit_invalid_slug_is_refused(tmp_path, capsys):
    assert generate(tmp_path, "--set", "project_name=ok", "--set", "project_slug=not-ok") == 1
    assert "'not-ok'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_non_empty_directory_needs_force(tmp_path, capsys):
    project = tmp_path / "my_microservice"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    assert generate(tmp_path) == 1
    assert "--force" in capsys.readouterr().err
    assert sorted(path.name for path in project.iterdir()) == ["notes.txt"]

    assert generate(tmp_path, "--force") == 0
    assert (project / "app.py").is_file() and (project / "notes.txt").read_text() == "mine"


def test_an_empty_directory_is_used_without_force(tmp_path):
    (tmp_path / "my_microservice").mkdir()
    assert generate(tmp_path) == 0
    assert (tmp_path / "my_microservice" / "app.py").is_file()


def test_start_project_rejects_bad_set_value(capsys):
    assert main(["start_project", "--no-input", "--set", "no_equals_sign"]) == 1
    assert "KEY=VALUE" in capsys.readouterr().err


def test_the_project_name_is_taken_positionally(tmp_path):
    """`tamarco start_project myservice` (issue 24): the name is positional; no prompt for the rest."""
    assert main(["start_project", "myservice", "--output-dir", str(tmp_path)]) == 0
    assert (tmp_path / "myservice" / "myservice" / "microservice.py").read_text().count('name = "myservice"') == 1


def test_a_positional_name_is_checked_and_not_given_twice(tmp_path, capsys):
    assert main(["start_project", "2fa", "--output-dir", str(tmp_path)]) == 1
    assert "not a Python identifier" in capsys.readouterr().err
    assert main(["start_project", "one", "--set", "project_name=two", "--output-dir", str(tmp_path)]) == 1
    assert "given twice" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_help_lists_the_template_keys(capsys):
    with pytest.raises(SystemExit):
        main(["start_project", "--help"])
    out = capsys.readouterr().out
    for key in ("project_name = my_microservice", "http_port = 8080", "report_port", "kubernetes_name"):
        assert key in out, out


def test_a_missing_extra_is_reported_with_one_prefix(tmp_path, capsys, monkeypatch):
    """The message names the command once ("tamarco start_project needs cookiecutter ...")."""
    monkeypatch.setitem(sys.modules, "cookiecutter.main", None)
    assert main(["start_project", "x", "--output-dir", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("tamarco start_project needs cookiecutter"), error
    assert error.count("tamarco start_project") == 1, error
