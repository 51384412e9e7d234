"""The paper config's download stages, offline, on stand-ins in the real on-disk formats.

`make reproduce` (config/paper.yaml) starts by downloading STL-10 through torchvision
(rule real_download), torchvision's MobileNetV2 ImageNet weights (rule backbone) and
the Stable Diffusion snapshot (rule generator_model). Here each download is served from
this machine, by a local HTTP server, in the format the real server sends, and read by
the same library code the paper run uses:

- STL-10's `stl10_binary.tar.gz` (column-major uint8 images, 1-based labels,
  class_names.txt) and CIFAR-10's `cifar-10-python.tar.gz` (pickled batches), built
  here, fetched, md5-checked, extracted and read by torchvision's own dataset classes,
  then written out as class folders by `extract_torchvision`;
- a MobileNetV2 state_dict named `mobilenet_v2-<sha256 prefix>.pth` as torchvision
  names its files, fetched through `MobileNet_V2_Weights.get_state_dict(check_hash=True)`
  into TORCH_HOME, checked and loaded by the backbone stage.

Only the addresses and checksums torchvision hard-codes for the real files are
replaced (a stand-in cannot have the real archive's md5); the snapshot's download through
the hub client and its `from_pretrained` are in test_generate_tiny.py's hub-cache tests and
`test_hub_download_snapshot_loads_through_from_pretrained` below.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import pickle
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synth2real.config import PathWeights, TorchvisionReal, TorchvisionWeights
from synth2real.data import sources
from synth2real.errors import DataError

CLASSES = sources.STL10_CLASSES  # STL-10's class_names.txt, in label order


# ---------------------------------------------------------------------------------------------
# A local server that records what was fetched


@contextlib.contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[str]:
    """Run `server` in a thread; yields its base URL; shuts it down after."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def http_server(folder: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve `folder` on a free local port; yields (base URL, ["GET /path", ...] as requested)."""
    requests: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, fmt: str, *args: object) -> None:  # one call per request
            requests.append(f"{self.command} {self.path}")

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))) as url:
        yield url, requests


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """The local server is reached directly even where a proxy is configured for the registries."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def tar_gz(archive: Path, folder: Path) -> Path:
    """`folder` packed as `archive` with the folder's name as the top-level entry, as the
    datasets' own archives are."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


def image(side: int, label: int, i: int) -> np.ndarray:
    """A unique HWC image whose orientation shows: red grows down the rows, green along the
    columns, a white top-left corner; blue tells label and index apart."""
    img = np.empty((side, side, 3), np.uint8)
    img[..., 0] = (np.arange(side)[:, None] * 255 // side)
    img[..., 1] = (np.arange(side)[None, :] * 255 // side)
    img[..., 2] = 20 * label + i
    img[: side // 8, : side // 8] = 255
    return img


def interleaved(counts: dict[int, int]) -> list[tuple[int, int]]:
    """(label, index within label) in a mixed, fixed file order, as the real files are."""
    order = [(label, i) for label, n in counts.items() for i in range(n)]
    return [order[k] for k in np.random.default_rng(0).permutation(len(order))]


def check_class_folders(split_dir: Path, names: list[str], order: list[tuple[int, int]],
                        side: int) -> None:
    """One folder per class holding exactly that class's images, numbered in file order and
    pixel for pixel the images the archive holds."""
    expected: dict[str, list[np.ndarray]] = {}
    for label, i in order:
        expected.setdefault(names[label], []).append(image(side, label, i))
    assert sources.available_classes(split_dir) == sorted(expected)
    for cls, images in expected.items():
        files = sorted((split_dir / cls).iterdir())
        assert [f.name for f in files] == [f"{k:05d}.png" for k in range(len(images))], cls
        for f, want in zip(files, images):
            with Image.open(f) as im:
                assert im.mode == "RGB" and np.array_equal(np.asarray(im), want), f


# ---------------------------------------------------------------------------------------------
# STL-10 (config/paper.yaml: real.source.kind stl10)


def write_stl10(where: Path, train: dict[int, int], test: dict[int, int]) -> tuple[Path, dict]:
    """`stl10_binary.tar.gz` as STL-10 publishes it; returns (archive, {split: file order}).

    Format (the dataset's README): `<split>_X.bin` holds 3 x 96 x 96 uint8 per image,
    each channel in column-major order; `<split>_y.bin` one uint8 label per image, 1-10;
    class_names.txt the names in label order; plus unlabeled_X.bin and fold_indices.txt.
    """
    folder = where / "stl10_binary"
    folder.mkdir(parents=True)
    orders = {"train": interleaved(train), "test": interleaved(test)}
    for split, order in orders.items():
        with (folder / f"{split}_X.bin").open("wb") as fh:
            for label, i in order:
                fh.write(image(96, label, i).transpose(2, 1, 0).tobytes())  # C, column, row
        np.array([label + 1 for label, _ in order], np.uint8).tofile(folder / f"{split}_y.bin")
    np.zeros((2, 3, 96, 96), np.uint8).tofile(folder / "unlabeled_X.bin")
    (folder / "class_names.txt").write_text("\n".join(CLASSES) + "\n")
    n = len(orders["train"])
    (folder / "fold_indices.txt").write_text(
        "\n".join(" ".join(str(j) for j in range(k, n, 10)) for k in range(10)) + "\n")
    archive = tar_gz(where / "stl10_binary.tar.gz", folder)
    return archive, orders


@pytest.fixture
def stl10_server(tmp_path, monkeypatch):
    """STL-10's archive served locally at the path of the real URL; torchvision's STL10 pointed
    at it, with the stand-in's checksums in place of the real files' ones."""
    from torchvision.datasets import STL10

    counts_train = {label: 2 + label % 3 for label in range(10)}
    counts_test = {label: 3 + label % 2 for label in range(10)}
    site = tmp_path / "site"
    archive, orders = write_stl10(tmp_path / "build", counts_train, counts_test)
    (site / "~acoates" / "stl10").mkdir(parents=True)
    served = site / "~acoates" / "stl10" / STL10.filename
    archive.replace(served)
    built = tmp_path / "build" / "stl10_binary"
    with http_server(site) as (base, requests):
        monkeypatch.setattr(STL10, "url", f"{base}/~acoates/stl10/{STL10.filename}")
        monkeypatch.setattr(STL10, "tgz_md5", md5(served))
        monkeypatch.setattr(STL10, "train_list", [[n, md5(built / n)] for n, _ in STL10.train_list])
        monkeypatch.setattr(STL10, "test_list", [[n, md5(built / n)] for n, _ in STL10.test_list])
        yield orders, requests, served


def test_stl10_download_writes_test_and_train_class_folders(stl10_server, tmp_path):
    orders, requests, _ = stl10_server
    real = TorchvisionReal(kind="stl10", download_dir=str(tmp_path / "downloads"),
                           extract_dir=str(tmp_path / "real"))
    written = sources.extract_torchvision(real=real)
    test_root, pool_root = sources.real_roots(real)
    assert written == [test_root, pool_root] == [tmp_path / "real" / "stl10" / "test",
                                                 tmp_path / "real" / "stl10" / "train"]
    # Fetched over HTTP (torchvision's redirect probe is a GET too), kept where torchvision
    # keeps it.
    assert set(requests) == {"GET /~acoates/stl10/stl10_binary.tar.gz"}
    assert (tmp_path / "downloads" / "stl10_binary" / "test_X.bin").is_file()
    check_class_folders(test_root, CLASSES, orders["test"], 96)
    check_class_folders(pool_root, CLASSES, orders["train"], 96)
    # Labels are 1-based on disk: label 1 is the first class name, airplane.
    assert len(list((test_root / "airplane").iterdir())) == 3
    assert {len(list((pool_root / c).iterdir())) for c in ("bird", "cat", "dog")} == {3, 4, 2}
    # The paper's classes exist under the names the config validation checks them against.
    assert {"dog", "cat", "bird"} <= set(sources.available_classes(pool_root))
    assert not list((tmp_path / "real" / "stl10").glob("*.partial"))

    # A second run finds the verified archive and downloads nothing.
    requests.clear()
    sources.extract_torchvision(real=real)
    assert not requests
    check_class_folders(test_root, CLASSES, orders["test"], 96)


def test_stl10_corrupt_download_fails_naming_dataset_folder_and_fix(stl10_server, tmp_path):
    _, _, served = stl10_server
    served.write_bytes(served.read_bytes()[:-100])  # cut short on the way
    real = TorchvisionReal(kind="stl10", download_dir=str(tmp_path / "downloads"),
                           extract_dir=str(tmp_path / "real"))
    with pytest.raises(DataError) as err:
        sources.extract_torchvision(real=real)
    msg = str(err.value)
    assert "could not obtain stl10 (test)" in msg and str(tmp_path / "downloads") in msg
    assert "Run once with network access" in msg and "real.source.kind: folder" in msg
    assert not (tmp_path / "real").exists()  # nothing half-written looks finished


def test_stl10_unreachable_server_fails_at_once(tmp_path, monkeypatch):
    from torchvision.datasets import STL10

    with http_server(tmp_path) as (base, _):
        pass  # the port is closed again: connection refused
    monkeypatch.setattr(STL10, "url", f"{base}/stl10_binary.tar.gz")
    real = TorchvisionReal(kind="stl10", download_dir=str(tmp_path / "d"),
                           extract_dir=str(tmp_path / "r"))
    with pytest.raises(DataError, match=r"could not obtain stl10 \(test\) in .*Connection refused"):
        sources.extract_torchvision(real=real)


# ---------------------------------------------------------------------------------------------
# CIFAR-10 (real.source.kind cifar10)

CIFAR10_BATCHES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                   "data_batch_5", "test_batch"]


def write_cifar10(where: Path, per_batch: dict[int, int]) -> tuple[Path, list[tuple[int, int]]]:
    """`cifar-10-python.tar.gz` as published: five training batches and a test batch, each a
    pickled dict with `data` (N x 3072 uint8: the red, green and blue 32 x 32 planes, row-major)
    and `labels` (0-9), and batches.meta with `label_names`. Returns (archive, the training
    images in file order, indices running on over the batches)."""
    folder = where / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    order: list[tuple[int, int]] = []
    seen = dict.fromkeys(range(10), 0)
    for b, name in enumerate(CIFAR10_BATCHES):
        batch = []
        for label, _ in interleaved(per_batch):
            batch.append((label, seen[label] if name != "test_batch" else 0))
            if name != "test_batch":
                seen[label] += 1
        data = np.stack([image(32, label, i).transpose(2, 0, 1).reshape(-1) for label, i in batch])
        entry = {"batch_label": f"batch {b + 1}", "labels": [label for label, _ in batch],
                 "data": data, "filenames": [f"img_{k}.png" for k in range(len(batch))]}
        with (folder / name).open("wb") as fh:
            pickle.dump(entry, fh, protocol=2)  # the real files are Python 2 pickles
        if name != "test_batch":
            order += batch
    with (folder / "batches.meta").open("wb") as fh:
        pickle.dump({"num_cases_per_batch": len(order) // 5, "num_vis": 3072,
                     "label_names": sources.CIFAR10_CLASSES}, fh, protocol=2)
    (folder / "readme.html").write_text("<html>stand-in</html>")
    return tar_gz(where / "cifar-10-python.tar.gz", folder), order


def test_cifar10_download_writes_train_class_folders(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR10

    archive, order = write_cifar10(tmp_path / "build", {label: 1 + label % 2 for label in range(10)})
    built = tmp_path / "build" / "cifar-10-batches-py"
    (tmp_path / "site" / "~kriz").mkdir(parents=True)
    archive.replace(tmp_path / "site" / "~kriz" / CIFAR10.filename)
    with http_server(tmp_path / "site") as (base, requests):
        monkeypatch.setattr(CIFAR10, "url", f"{base}/~kriz/{CIFAR10.filename}")
        monkeypatch.setattr(CIFAR10, "tgz_md5", md5(tmp_path / "site" / "~kriz" / CIFAR10.filename))
        monkeypatch.setattr(CIFAR10, "train_list", [[n, md5(built / n)] for n, _ in CIFAR10.train_list])
        monkeypatch.setattr(CIFAR10, "test_list", [[n, md5(built / n)] for n, _ in CIFAR10.test_list])
        monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5(built / "batches.meta")})
        real = TorchvisionReal(kind="cifar10", download_dir=str(tmp_path / "downloads"),
                               extract_dir=str(tmp_path / "real"))
        written = sources.extract_torchvision(real=real)
    # Test set and pool are both carved from CIFAR-10's training batches.
    assert written == [tmp_path / "real" / "cifar10" / "train"]
    assert sources.real_roots(real) == (written[0], written[0])
    assert set(requests) == {"GET /~kriz/cifar-10-python.tar.gz"}
    check_class_folders(written[0], sources.CIFAR10_CLASSES, order, 32)
    assert len(list((written[0] / "cat").iterdir())) == 5 * 2  # label 3: two per batch


# ---------------------------------------------------------------------------------------------
# The backbone weights (backbone.weights.kind torchvision)


def mobilenet_state(seed: int = 0) -> dict:
    """A MobileNetV2 state_dict in torchvision's format (random, not ImageNet-trained)."""
    import torch
    from torchvision.models import mobilenet_v2

    torch.manual_seed(seed)
    return mobilenet_v2(weights=None).state_dict()


@pytest.fixture
def weights_server(tmp_path, monkeypatch):
    """A stand-in weights file served as torchvision names its files, `mobilenet_v2-<the first 8
    hex digits of its sha256>.pth`; torchvision's IMAGENET1K_V1 entry pointed at it; TORCH_HOME
    an empty cache."""
    import torch
    from torchvision.models import MobileNet_V2_Weights

    state = mobilenet_state()
    buf = io.BytesIO()
    torch.save(state, buf)
    sha = hashlib.sha256(buf.getvalue()).hexdigest()
    (tmp_path / "site" / "models").mkdir(parents=True)
    served = tmp_path / "site" / "models" / f"mobilenet_v2-{sha[:8]}.pth"
    served.write_bytes(buf.getvalue())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    entry = MobileNet_V2_Weights.IMAGENET1K_V1.value
    with http_server(tmp_path / "site") as (base, requests):
        monkeypatch.setattr(entry, "url", f"{base}/models/{served.name}")
        yield state, sha, served, requests, entry.url


def test_torchvision_weights_download_checksum_and_load(weights_server, tmp_path):
    import torch

    from synth2real.model.backbone import load_backbone

    state, sha, served, requests, url = weights_server
    info = sources.resolve_weights(TorchvisionWeights(kind="torchvision", name="IMAGENET1K_V1"))
    cached = tmp_path / "torch" / "hub" / "checkpoints" / served.name
    assert info == {"kind": "torchvision", "path": str(cached), "sha256": sha, "origin": url}
    assert requests == [f"GET /models/{served.name}"]
    # The backbone stage loads it strictly: every tensor is the served one.
    bb = load_backbone(info["path"])
    got = {f"features.{k}": v for k, v in bb.features.state_dict().items()}
    assert got and all(torch.equal(v, state[k]) for k, v in got.items())
    assert not any(p.requires_grad for p in bb.parameters())
    # Cached: a second resolution downloads nothing and records the same file.
    requests.clear()
    assert sources.resolve_weights(TorchvisionWeights(kind="torchvision")) == info
    assert not requests


def test_cached_weights_damaged_later_are_refused_with_the_fix(weights_server, tmp_path):
    _, sha, _, _, _ = weights_server
    w = TorchvisionWeights(kind="torchvision")
    path = Path(sources.resolve_weights(w)["path"])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # an interrupted copy
    with pytest.raises(DataError) as err:
        sources.resolve_weights(w)
    msg = str(err.value)
    assert str(path) in msg and f"starting {sha[:8]}" in msg
    assert "Delete it and run `make fetch-weights`" in msg


def test_weights_whose_download_does_not_match_their_name_are_refused(weights_server, tmp_path):
    _, _, served, _, _ = weights_server
    served.write_bytes(served.read_bytes() + b"tampered")
    with pytest.raises(DataError, match=r"could not download .*invalid hash value.*make fetch-weights"):
        sources.resolve_weights(TorchvisionWeights(kind="torchvision"))
    assert not list((tmp_path / "torch" / "hub" / "checkpoints").glob("*.pth"))


def test_unknown_weights_name_lists_the_available_ones():
    with pytest.raises(DataError, match=r"backbone.weights.name 'IMAGENET9K'.*IMAGENET1K_V1"):
        sources.resolve_weights(TorchvisionWeights(kind="torchvision", name="IMAGENET9K"))


def test_local_weights_file_is_checked_by_sha256(tmp_path):
    import torch

    path = tmp_path / "mobilenet_v2.pth"
    torch.save(mobilenet_state(1), path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    info = sources.resolve_weights(PathWeights(kind="path", path=str(path), sha256=sha))
    assert info == {"kind": "path", "path": str(path.resolve()), "sha256": sha,
                    "origin": str(path)}
    with pytest.raises(DataError, match=r"backbone.weights.sha256 expects 0{64}"):
        sources.resolve_weights(PathWeights(kind="path", path=str(path), sha256="0" * 64))


def test_backbone_stage_runs_on_the_downloaded_weights(weights_server, tmp_path):
    """Rule backbone of the paper config: resolve, check, export to ONNX, parity, record."""
    from synth2real import config
    from synth2real.model.backbone import export_backbone

    _, sha, served, _, _ = weights_server
    backbone = config.Backbone(weights=TorchvisionWeights(kind="torchvision"), image_size=64)
    export_backbone(str(tmp_path / "b.onnx"), str(tmp_path / "b.json"), backbone=backbone,
                    features=config.Features(), export=config.Export())
    info = json.loads((tmp_path / "b.json").read_text())
    assert (info["kind"], info["sha256"], Path(info["path"]).name) == ("torchvision", sha,
                                                                      served.name)
    assert info["onnx_parity_max_abs_diff"] <= 1e-4 and (tmp_path / "b.onnx").stat().st_size > 1e6


# ---------------------------------------------------------------------------------------------
# The generator's snapshot (synthetic.source.kind diffusers, rule generator_model)

HUB_REPO = "test-org/tiny-sd"
HUB_COMMIT = "c0ffee0123456789abcdef0123456789abcdef01"
# Files the real Stable Diffusion v1.5 repository holds beside the pipeline the generator
# loads: full checkpoints, fp16 variants, pickled duplicates. Gigabytes each there.
HUB_EXTRAS = ["v1-5-pruned.ckpt", "v1-5-pruned-emaonly.safetensors",
              "unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.bin",
              "vae/diffusion_pytorch_model.fp16.safetensors"]


def sd_layout_pipeline(folder: Path) -> Path:
    """The tiny pipeline with Stable Diffusion v1.5's seven components: a (tiny) safety checker
    and its CLIP image processor beside UNet, VAE, text encoder, tokenizer and scheduler."""
    from diffusers import StableDiffusionPipeline
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    from tests.tiny_pipeline import save_tiny_pipeline

    tiny = StableDiffusionPipeline.from_pretrained(save_tiny_pipeline(folder.with_name("tiny")))
    small = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
             "num_attention_heads": 2}
    checker = StableDiffusionSafetyChecker(CLIPConfig(
        text_config={**small, "vocab_size": 99, "max_position_embeddings": 16},
        vision_config={**small, "image_size": 32, "patch_size": 8}, projection_dim=8))
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    pipe = StableDiffusionPipeline(**{**tiny.components, "safety_checker": checker,
                                      "feature_extractor": processor},
                                   requires_safety_checker=True)
    pipe.save_pretrained(folder)
    for extra in HUB_EXTRAS:
        (folder / extra).write_bytes(b"not needed by the pipeline")
    (folder / "README.md").write_text("---\nlicense: creativeml-openrail-m\n---\n")
    return folder


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


LFS = (".safetensors", ".bin", ".ckpt")  # stored with Git LFS on the hub, as weights are


@contextlib.contextmanager
def fake_hub(repo: Path) -> Iterator[tuple[str, list[str]]]:
    """The Hugging Face hub's HTTP API for one model repository (`repo`, at HUB_COMMIT): model
    info, the recursive file tree (Git LFS entries for weights), and `resolve/<revision>/<file>`
    with the headers the hub client reads (commit, ETag = the LFS sha256 or the git blob id).
    Yields (endpoint, ["HEAD|GET /path", ...] as requested)."""
    from http.server import BaseHTTPRequestHandler
    from urllib.parse import unquote, urlsplit

    files = {p.relative_to(repo).as_posix(): p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    folders = sorted({f.rsplit("/", 1)[0] for f in files if "/" in f})

    def etag(name: str) -> str:
        data = files[name]
        return hashlib.sha256(data).hexdigest() if name.endswith(LFS) else _git_blob_id(data)

    def tree_entry(name: str) -> dict:
        entry = {"type": "file", "path": name, "size": len(files[name]),
                 "oid": _git_blob_id(files[name])}
        if name.endswith(LFS):
            entry["lfs"] = {"oid": etag(name), "size": len(files[name]), "pointerSize": 134}
        return entry

    requests: list[str] = []

    class Hub(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args: object) -> None:
            requests.append(f"{self.command} {unquote(urlsplit(self.path).path)}")

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(body)

        def _json(self, value: object) -> None:
            self._send(200, json.dumps(value).encode(), {"Content-Type": "application/json"})

        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path)
            api = f"/api/models/{HUB_REPO}"
            resolve = f"/{HUB_REPO}/resolve/"
            commit = {"X-Repo-Commit": HUB_COMMIT}
            if path == api or path.startswith(api + "/revision/"):
                self._json({"id": HUB_REPO, "modelId": HUB_REPO, "sha": HUB_COMMIT,
                            "private": False, "tags": ["diffusers"], "library_name": "diffusers",
                            "siblings": [{"rfilename": f} for f in sorted(files)]})
            elif path.startswith(api + "/tree/"):
                self._json([*({"type": "directory", "path": d, "oid": "0" * 40} for d in folders),
                            *(tree_entry(f) for f in sorted(files))])
            elif path.startswith(resolve):
                revision, _, name = path[len(resolve):].partition("/")
                if revision not in ("main", HUB_COMMIT):
                    self._send(404, b"", {**commit, "X-Error-Code": "RevisionNotFound"})
                elif name not in files:
                    self._send(404, b"", {**commit, "X-Error-Code": "EntryNotFound"})
                else:
                    self._send(200, files[name], {**commit, "ETag": f'"{etag(name)}"',
                                                  "Content-Type": "application/octet-stream"})
            else:
                self._send(404, b"", {"X-Error-Code": "RepoNotFound"})

        do_HEAD = do_GET

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Hub)) as url:
        yield url, requests


GENERATOR_SCRIPT = f"""
import json, sys
from synth2real.config import DiffusersGenerator
from synth2real.data.generate import shard, weights

model_json, out_dir = sys.argv[1], sys.argv[2]
gen = DiffusersGenerator(kind="diffusers", model_id={HUB_REPO!r}, revision="main", resolution=64,
                         steps=2, batch_size=2, shard_size=2, dtype="float32", out_dir=out_dir)
weights.write_model_info(model_json, model_id=gen.model_id, revision=gen.revision)
model = weights.locate_model(model_json)  # what every shard does: the cache, never the network
counts = shard.make_shard(gen, "dog", range(2), model)
print(json.dumps({{"counts": counts, "path": model.path}}))
"""


def test_hub_download_snapshot_loads_through_from_pretrained(tmp_path):
    """Rule generator_model, then a generate shard, on a hub model that is not cached yet:
    the hub client downloads the snapshot into HF_HOME (blobs + symlinked snapshot), only the
    files the pipeline loads, and the shard loads it with from_pretrained, offline."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    repo = sd_layout_pipeline(tmp_path / "repo")
    (tmp_path / "run.py").write_text(GENERATOR_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env |= {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_XET": "1", "HF_HUB_ETAG_TIMEOUT": "30"}
    with fake_hub(repo) as (endpoint, requests):
        proc = subprocess.run(
            [sys.executable, str(tmp_path / "run.py"), str(tmp_path / "model.json"),
             str(tmp_path / "out")], env={**env, "HF_ENDPOINT": endpoint}, cwd=REPO,
            capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, (requests, proc.stderr[-3000:])
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    info = json.loads((tmp_path / "model.json").read_text())
    snapshot = tmp_path / "hf" / "hub" / "models--test-org--tiny-sd" / "snapshots" / HUB_COMMIT
    assert (info["model_id"], info["revision"], info["commit"]) == (HUB_REPO, "main", HUB_COMMIT)
    assert Path(info["path"]) == Path(result["path"]) == snapshot
    # The hub cache's own layout: each snapshot file a symlink to its content-addressed blob.
    weights_file = snapshot / "unet" / "diffusion_pytorch_model.safetensors"
    assert weights_file.is_symlink() and weights_file.resolve().parent.name == "blobs"
    assert weights_file.read_bytes() == (repo / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()
    for component in ("safety_checker", "feature_extractor", "text_encoder", "tokenizer", "vae",
                      "scheduler"):
        assert (snapshot / component).is_dir(), component
    # Only what the pipeline loads came down: no checkpoint, fp16 variant or pickled duplicate.
    fetched = {r.split(f"/resolve/{HUB_COMMIT}/")[-1].split("/resolve/main/")[-1]
               for r in requests if r.startswith("GET") and "/resolve/" in r}
    assert "unet/diffusion_pytorch_model.safetensors" in fetched
    assert "safety_checker/model.safetensors" in fetched
    assert not fetched & set(HUB_EXTRAS), sorted(fetched & set(HUB_EXTRAS))
    # The shard loaded it (safety checker included) and made its images.
    assert result["counts"]["generated"] == 2
    assert sorted(p.name for p in (tmp_path / "out" / "dog").glob("*.png")) == ["000000.png",
                                                                              "000001.png"]
