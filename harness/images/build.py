"""Build local images of the harness's services, for a Docker engine that reaches no registry.

Run by ``./dev docker`` (with the workspace's Python). Every image starts from a Debian
``minbase`` root made by ``debootstrap`` from the mirror apt already uses, imported with
``docker import``; each service's directory here holds its Dockerfile. An image is tagged with
a hash of its build context and its base, so a second run only checks that the tags exist.
Writes ``TAMARCO_HARNESS_IMAGE_<SERVICE>`` lines to the env file that ``./dev test`` reads;
the harness's defaults (the official upstream images) are untouched.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tamarco.harness import _binaries
from tamarco.harness._images import IMAGE_VARIABLE_PREFIX

HERE = Path(__file__).resolve().parent
COLLECTOR = HERE.parent / "src" / "tamarco" / "harness" / "_collector.py"
REPOSITORY = "tamarco-harness-local"
SERVICES = ("etcd", "rabbitmq", "redis", "prometheus", "carbon", "kafka", "logstash")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
#: debootstrap and the root it makes need root (sudo elsewhere, e.g. a GitHub runner).
AS_ROOT: list[str] = [] if os.geteuid() == 0 else ["sudo"]
SUITE = "bookworm"


def log(message: str) -> None:
    print(f"[dev docker] {message}", file=sys.stderr, flush=True)


def docker(*args: str, stdin: int | None = None, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}  # Debian's engine has no buildx
    return subprocess.run(
        ["docker", *args],
        stdin=stdin,
        capture_output=quiet,
        text=True,
        env=env,
        check=False,
    )


def image_exists(reference: str) -> bool:
    return docker("image", "inspect", "--format", "{{.Id}}", reference, quiet=True).returncode == 0


def image_id(reference: str) -> str:
    return docker("image", "inspect", "--format", "{{.Id}}", reference, quiet=True).stdout.strip()


def debian_mirror() -> str:
    """The Debian mirror apt uses here (deb822 ``.sources`` or ``sources.list``), else deb.debian.org."""
    files = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for file in files:
        if file.suffix not in (".list", ".sources") or not file.is_file():
            continue
        text = file.read_text(errors="replace")
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.MULTILINE)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.MULTILINE)
            if uris and suites and SUITE in suites.group(1).split() and "security" not in uris.group(1):
                return uris.group(1)
        for match in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", text, re.MULTILINE):
            if match.group(2) == SUITE:
                return match.group(1)
    return DEFAULT_MIRROR


def base_image(state: Path) -> str:
    tag = f"{REPOSITORY}/debian:{SUITE}"
    if image_exists(tag):
        return tag
    if shutil.which("debootstrap") is None:
        raise SystemExit("debootstrap is missing: apt-get install debootstrap")
    mirror = debian_mirror()
    log(f"building {tag} with debootstrap from {mirror}")
    rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=state))
    try:
        started = time.monotonic()
        subprocess.run(
            [*AS_ROOT, "debootstrap", "--variant=minbase", SUITE, str(rootfs), mirror],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        # Images only need what they install: no docs, no apt caches.
        nodoc = "path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n"
        subprocess.run(
            [*AS_ROOT, "tee", str(rootfs / "etc/dpkg/dpkg.cfg.d/01-nodoc")],
            input=nodoc.encode(),
            stdout=subprocess.DEVNULL,
            check=True,
        )
        tar = subprocess.Popen([*AS_ROOT, "tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = docker("import", "-", tag, stdin=tar.stdout.fileno() if tar.stdout else None, quiet=True)
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise SystemExit(f"docker import of {tag} failed: {imported.stderr}")
        log(f"{tag} built in {time.monotonic() - started:.0f} s")
    finally:
        subprocess.run([*AS_ROOT, "rm", "-rf", str(rootfs)], check=False)
    return tag


def context_files(service: str) -> dict[str, Path]:
    files = {path.name: path for path in sorted((HERE / service).iterdir()) if path.is_file()}
    if service == "kafka":
        files["tansu"] = Path(_binaries.find_binary(_binaries.TANSU))
    if service == "logstash":
        files["collector.py"] = COLLECTOR
        # The collector's Redis client as the workspace has it (pure Python): Debian's
        # python3-redis 4.3 lacks what the collector calls (aclose).
        import redis

        files["redis"] = Path(redis.__file__).parent
    return files


def _tree(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def build(service: str, base: str, state: Path) -> str:
    files = context_files(service)
    digest = hashlib.sha256(image_id(base).encode())
    for name, path in files.items():
        for file in _tree(path):
            digest.update(f"{name}/{file.relative_to(path) if file != path else ''}".encode() + b"\0")
            digest.update(file.read_bytes())
    tag = f"{REPOSITORY}/{service}:{digest.hexdigest()[:12]}"
    if image_exists(tag):
        return tag
    log(f"building {tag}")
    started = time.monotonic()
    context = Path(tempfile.mkdtemp(prefix=f"context-{service}-", dir=state))
    try:
        for name, path in files.items():
            if path.is_dir():
                shutil.copytree(path, context / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(path, context / name)
        result = docker(
            "build",
            "--quiet",
            "--network",
            "host",
            "--build-arg",
            f"BASE={base}",
            "--tag",
            tag,
            "--tag",
            f"{REPOSITORY}/{service}:latest",
            str(context),
            quiet=True,
        )
    finally:
        shutil.rmtree(context, ignore_errors=True)
    if result.returncode != 0:
        raise SystemExit(f"building {tag} failed:\n{result.stdout}\n{result.stderr}")
    log(f"{tag} built in {time.monotonic() - started:.0f} s")
    return tag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--env-file", type=Path, required=True)
    parser.add_argument("--docker-host", default="", help="written to the env file as DOCKER_HOST")
    args = parser.parse_args()
    args.state_dir.mkdir(parents=True, exist_ok=True)
    base = base_image(args.state_dir)
    # apt downloads dominate: a few builds at once.
    with ThreadPoolExecutor(max_workers=3) as pool:
        tags = dict(zip(SERVICES, pool.map(lambda name: build(name, base, args.state_dir), SERVICES), strict=True))
    lines = ["# Written by ./dev docker; read by ./dev test. Delete it to use the upstream images."]
    if args.docker_host:
        lines.append(f"export DOCKER_HOST={args.docker_host}")
    lines += [f"export {IMAGE_VARIABLE_PREFIX}{name.upper()}={tag}" for name, tag in tags.items()]
    args.env_file.write_text("\n".join(lines) + "\n")
    log(f"local images ready; {args.env_file} names them")


if __name__ == "__main__":
    main()
