"""`synth2real doctor`: what this machine has and lacks for synth2real, and the fix for each gap.

Reports Python, uv, GPU and onnxruntime providers, LaTeX and fonts, the
browser for the demo tests, and the offline bundle. Exits 1 when something a
README command needs is missing (a GPU is never required: it is reported only).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import SpecifierSet

from synth2real.tools.checkout import find_checkout

BUNDLE_WEIGHTS_SHA256 = "91640f839ab4922b84d8cf822550f2a5b04bfdd61379ffaa16b10ec0f6187f15"


@dataclass
class Check:
    what: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _run(*cmd: str) -> str:
    try:
        out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (out.stdout or out.stderr).strip().splitlines()[0] if out.returncode == 0 else ""


def system_packages(path: Path | None = None) -> list[tuple[str, str, str]]:
    """(package, group, probe) rows of the one system package list (default: the checkout's)."""
    path = path or find_checkout() / "system-packages.txt"
    rows = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            package, group, probe = line.split()[:3]
            rows.append((package, group, probe))
    return rows


def probe_present(probe: str) -> tuple[bool, str]:
    """Whether `kind:name` from system-packages.txt is present here, and where."""
    kind, _, name = probe.partition(":")
    if kind == "cmd":
        where = shutil.which(name)
        return where is not None, where or f"`{name}` not on PATH"
    if kind == "tex":
        where = _run("kpsewhich", name) if shutil.which("kpsewhich") else ""
        return bool(where), where or f"{name} not found by kpsewhich"
    if kind == "file":
        return Path(name).is_file(), name
    if kind == "py":
        # The system Python's module (not this venv's): what `python3 -m venv` needs.
        python3 = shutil.which("python3") or "python3"
        found = _run(python3, "-c", f"import {name}; print('{name} importable')")
        return bool(found), found or f"python3 cannot import {name}"
    raise ValueError(f"system-packages.txt: unknown probe kind {kind!r} in {probe!r}")


def check_python() -> Check:
    spec = SpecifierSet(importlib.metadata.metadata("synth2real")["Requires-Python"])
    version = platform.python_version()
    return Check("Python", version in spec, f"{version} at {sys.executable} (supported {spec})",
                 "use a Python in that range (Debian 12: 3.11, Debian 13: 3.13)")


def check_uv() -> Check:
    uv = find_checkout() / ".uv" / "bin" / "uv"
    found = str(uv) if uv.is_file() else shutil.which("uv")
    version = _run(found, "--version") if found else ""
    return Check("uv", bool(version), f"{version} ({found})" if version else "not found",
                 "`make setup` installs the pinned uv into .uv/")


def check_gpu() -> list[Check]:
    out = []
    try:
        import torch

        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(n))
        out.append(Check("GPU (torch)", n > 0,
                         f"torch {torch.__version__}, CUDA {torch.version.cuda}: "
                         + (f"{n} GPU(s): {names}" if n else "no CUDA GPU visible"),
                         "only the paper configuration (Stable Diffusion) needs one", required=False))
    except ImportError as e:
        out.append(Check("GPU (torch)", False, f"torch not importable: {e}", "`make setup`"))
    try:
        import onnxruntime as ort

        providers = ort.get_available_providers()
        out.append(Check("onnxruntime", True, f"{ort.__version__}, providers: {', '.join(providers)}"))
    except ImportError as e:
        out.append(Check("onnxruntime", False, f"not importable: {e}", "`make setup`"))
    return out


def check_system() -> list[Check]:
    out = []
    for package, group, probe in system_packages():
        ok, detail = probe_present(probe)
        target = "test-deps" if group == "test" else "system-deps"
        fix = (f"sudo apt-get install --no-install-recommends {package}" if group == "base"
               else f"`make {target}` (or: sudo apt-get install --no-install-recommends {package})")
        # The `test` group serves only `make test`, which installs it itself.
        out.append(Check(f"{package} ({group})", ok, detail, fix, required=group != "test"))
    return out


def check_bundle(bundle: Path | None) -> Check:
    fix = "point BUNDLE=<dir> (or --bundle) at the offline bundle; see README 'Offline inputs'"
    if bundle is None:
        return Check("offline bundle", False, "not given (BUNDLE unset, no ../shared/bundle)", fix,
                     required=False)
    weights = bundle / "weights" / "mobilenet_v2_imagenet.pth"
    missing = [str(p) for p in (bundle / "source" / "tiny-imagenet", bundle / "target" / "cifar10",
                                weights) if not p.exists()]
    if missing:
        return Check("offline bundle", False, f"{bundle}: missing {', '.join(missing)}", fix)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    if digest != BUNDLE_WEIGHTS_SHA256:
        return Check("offline bundle", False, f"{weights}: sha256 {digest[:12]}... differs from the "
                     "bundle README's", "replace the weights file with the bundle's original")
    return Check("offline bundle", True, f"{bundle} (weights sha256 verified)")


def default_bundle() -> Path | None:
    env = os.environ.get("BUNDLE")
    candidate = Path(env) if env else find_checkout().parent / "shared" / "bundle"
    return candidate.resolve() if (env or candidate.is_dir()) else None


def run_checks(bundle: Path | None) -> list[Check]:
    return [check_python(), check_uv(), *check_gpu(), *check_system(), check_bundle(bundle)]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, default=None,
                    help="offline bundle folder (default: $BUNDLE, else ../shared/bundle)")
    args = ap.parse_args(argv)
    checks = run_checks(args.bundle.resolve() if args.bundle else default_bundle())
    width = max(len(c.what) for c in checks)
    for c in checks:
        mark = "ok" if c.ok else ("MISSING" if c.required else "info")
        print(f"{mark:>7}  {c.what:<{width}}  {c.detail}")
        if not c.ok and c.fix:
            print(f"{'':>7}  {'':<{width}}  {'fix' if c.required else 'note'}: {c.fix}")
    missing = [c.what for c in checks if c.required and not c.ok]
    print(f"\n{'missing: ' + ', '.join(missing) if missing else 'all required parts present'}")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
