"""Where inputs come from: image folders, torchvision datasets, backbone weights.

Each source is a typed config entry (`synth2real.config`); the same workflow
runs on any of them. Download paths stay real (torchvision's own download
code) and are tested offline with small stand-ins in the real on-disk formats.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from synth2real.config import (
    DiffusersGenerator,
    FolderImages,
    FolderReal,
    PathWeights,
    Study,
    TorchvisionReal,
    TorchvisionWeights,
)
from synth2real.errors import DataError

# torchvision class names of the two downloadable real datasets.
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
STL10_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]

# The STL-10 pool comes from its labeled train split, the test set from its test split.
_SPLITS = {"cifar10": ("train", "train"), "stl10": ("test", "train")}


def available_classes(root: Path) -> list[str]:
    """The class sub-folders of an image folder (hidden folders excluded), sorted."""
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def check_root(root: Path, what: str) -> None:
    if not root.is_dir():
        raise DataError(f"{what} folder {str(root)!r} does not exist; check the config path")


def source_root(src: FolderImages | DiffusersGenerator) -> tuple[Path, bool]:
    """(folder with one sub-folder per class, whether to shuffle the file order)."""
    if isinstance(src, FolderImages):
        return Path(src.root), True
    # Generated file names are the zero-padded image index: keep that order.
    return Path(src.out_dir), False


def real_roots(src: TorchvisionReal | FolderReal) -> tuple[Path, Path]:
    """(test root, pool root) image folders of the real source."""
    if isinstance(src, FolderReal):
        return Path(src.root), Path(src.root)
    test_split, pool_split = _SPLITS[src.kind]
    base = Path(src.extract_dir) / src.kind
    return base / test_split, base / pool_split


def check_classes(cfg: Study) -> None:
    """Before any work: every folder source exists and has every configured class."""
    src = cfg.synthetic.source
    if isinstance(src, FolderImages):
        root = Path(src.root)
        check_root(root, "synthetic.source.root")
        _require_classes(root, cfg.classes, "synthetic.source.root", available_classes(root))
    real = cfg.real.source
    if isinstance(real, FolderReal):
        root = Path(real.root)
        check_root(root, "real.source.root")
        _require_classes(root, cfg.classes, "real.source.root", available_classes(root))
    elif isinstance(real, TorchvisionReal):
        names = CIFAR10_CLASSES if real.kind == "cifar10" else STL10_CLASSES
        _require_classes(Path(real.kind), cfg.classes, "classes", names)


def _require_classes(root: Path, classes: list[str], key: str, available: list[str]) -> None:
    missing = [c for c in classes if c not in available]
    if missing:
        raise DataError(
            f"unknown class name(s) {missing} for {key} ({str(root)!r}); "
            f"available: {', '.join(available) or '(none)'}"
        )


def extract_torchvision(real: TorchvisionReal) -> list[Path]:
    """Stage `real_download`: fetch CIFAR-10 or STL-10, write each split as `<split>/<class>/<i>.png`.

    The splits go under `real.extract_dir`/<kind>; returns the written split
    folders. Uses torchvision's own download and integrity checks; without
    network and without the archive in `download_dir`, torchvision's error is
    re-raised with the fix.
    """
    import torchvision

    out_base = Path(real.extract_dir) / real.kind
    written = []
    for split in sorted(set(_SPLITS[real.kind])):
        try:
            if real.kind == "cifar10":
                ds = torchvision.datasets.CIFAR10(real.download_dir, train=split == "train", download=True)
                names = ds.classes
            else:
                ds = torchvision.datasets.STL10(real.download_dir, split=split, download=True)
                names = ds.classes
        except Exception as e:  # network errors come in many types
            raise DataError(
                f"could not obtain {real.kind} ({split}) in {real.download_dir!r}: {e}. "
                "Run once with network access, or place the official archive there, "
                "or use the offline config (real.source.kind: folder)."
            ) from e
        split_dir = out_base / split
        tmp = split_dir.with_name(split_dir.name + ".partial")
        if tmp.exists():  # left by an interrupted run: start over rather than mix two runs' files
            shutil.rmtree(tmp)
        counters: dict[str, int] = {}
        for img, target in ds:  # PIL images, integer targets
            cls = names[target]
            i = counters.get(cls, 0)
            counters[cls] = i + 1
            (tmp / cls).mkdir(parents=True, exist_ok=True)
            img.save(tmp / cls / f"{i:05d}.png")
        if split_dir.exists():
            shutil.rmtree(split_dir)
        tmp.replace(split_dir)  # atomic: a half-written split never looks finished
        written.append(split_dir)
    return written


def sha256_file(path: Path) -> str:
    """The file's sha256, hex."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve_weights(w: TorchvisionWeights | PathWeights) -> dict[str, str]:
    """Locate (downloading if needed) the backbone weights `backbone.weights`; verify; describe.

    Returns {"kind", "path", "sha256", "origin"}; `path` is a torchvision-format
    state_dict loadable with `strict=True`.
    """
    if isinstance(w, PathWeights):
        path = Path(w.path)
        if not path.is_file():
            raise DataError(f"backbone.weights.path {str(path)!r} does not exist")
        digest = sha256_file(path)
        if digest != w.sha256:
            raise DataError(
                f"backbone weights {str(path)!r} have sha256 {digest}, but config "
                f"backbone.weights.sha256 expects {w.sha256}; the file is corrupt or a different model"
            )
        return {"kind": "path", "path": str(path.resolve()), "sha256": digest, "origin": str(path)}
    assert isinstance(w, TorchvisionWeights)
    import torch
    from torchvision.models import MobileNet_V2_Weights

    try:
        weights = MobileNet_V2_Weights[w.name]
    except KeyError:
        raise DataError(
            f"backbone.weights.name {w.name!r} unknown; available: {[m.name for m in MobileNet_V2_Weights]}"
        ) from None
    hub_dir = Path(torch.hub.get_dir()) / "checkpoints"
    path = hub_dir / Path(weights.url).name
    if not path.is_file():
        try:
            weights.get_state_dict(progress=False, check_hash=True)
        except Exception as e:
            raise DataError(
                f"could not download {weights.url} into {str(hub_dir)!r}: {e}. "
                "Run `make fetch-weights` with network access (TORCH_HOME sets the cache), "
                "or use backbone.weights.kind: path"
            ) from e
    digest = sha256_file(path)
    # torchvision names each weights file after the first digits of its sha256
    # ("mobilenet_v2-b0353104.pth"), and torch.hub checks them only while downloading: a cached
    # file damaged later (a copy to an offline machine cut short) is caught here, not by an
    # unreadable-pickle error in another job or a backbone with wrong weights.
    expected = torch.hub.HASH_REGEX.search(path.name)
    if expected and not digest.startswith(expected.group(1)):
        raise DataError(
            f"cached backbone weights {str(path)!r} have sha256 {digest}, but torchvision's "
            f"{w.name} file name promises one starting {expected.group(1)}: the file is "
            "incomplete or corrupt. Delete it and run `make fetch-weights` with network access, "
            "or copy an intact TORCH_HOME cache"
        )
    return {"kind": "torchvision", "path": str(path), "sha256": digest, "origin": weights.url}
