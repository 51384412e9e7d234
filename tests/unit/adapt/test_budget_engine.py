"""The labeled-budget track in the engine: which photos a model reads, pooling and mixing them
with the synthetic set, bridged transfer from stage-1 models, and the trainable last block."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synth2real.adapt import engine
from synth2real.config import Train, Variant
from synth2real.data import budgets
from synth2real.data.imagesets import save_features
from synth2real.data.manifests import read_csv, write_csv
from synth2real.errors import DataError
from synth2real.model import head, stacked
from synth2real.store import read_json, write_json
from tests.unit.adapt.test_engine import CLASSES, SEEDS, TRAIN, outputs, write_sets

ORACLE_PER_CLASS = 5  # write_sets: 8 labeled photos per class, 3 val + 5 oracle


def draws_file(sets, root, seeds=SEEDS):
    rows = read_csv(sets["target_labeled"]["plain"].manifest)
    path = root / "draws.csv"
    write_csv(path, budgets.draw(rows, CLASSES, seeds, 0), budgets.FIELDS)
    return str(path)


# ----------------------------------------------------------------------- draws --

def manifest(n_per_class=20, val=5):
    return [{"path": f"{c}/{i}.png", "label": c, "split": "val" if i < val else "oracle"}
            for c in CLASSES for i in range(n_per_class)]


def test_draws_read_the_oracle_split_only_nested_per_seed():
    rows = manifest()
    drawn = budgets.draw(rows, CLASSES, [0, 1, 2], data_seed=0)
    oracle = {r["path"] for r in rows if r["split"] == "oracle"}
    assert {d["path"] for d in drawn} == oracle  # never a val photo (nor test: not in this file)
    as_rows = [{k: str(v) for k, v in d.items()} for d in drawn]
    for seed in (0, 1, 2):
        small, large = (budgets.photos(as_rows, seed, b, CLASSES, "x") for b in (3, 10))
        assert set(small) < set(large) and len(small) == 3 * len(CLASSES)
        assert large[:3] == small[:3]  # class by class, in rank order: a prefix per class
        every = budgets.photos(as_rows, seed, None, CLASSES, "x")
        assert sorted(every) == sorted(oracle)
    # Which photos a budget holds changes with the seed.
    picks = {tuple(budgets.photos(as_rows, s, 3, CLASSES, "x")) for s in (0, 1, 2)}
    assert len(picks) == 3


def test_draws_do_not_depend_on_the_manifests_row_order():
    rows = manifest()
    a = budgets.draw(rows, CLASSES, [0], 0)
    b = budgets.draw(rows[::-1], CLASSES, [0], 0)
    key = lambda d: (d["label"], d["rank"])
    assert sorted(a, key=key) == sorted(b, key=key)


def test_a_budget_larger_than_the_oracle_split_is_an_error():
    rows = [{k: str(v) for k, v in d.items()} for d in budgets.draw(manifest(), CLASSES, [0], 0)]
    with pytest.raises(DataError, match="a budget of 16 photos per class, but class 'dog' has 15"):
        budgets.photos(rows, 0, 16, CLASSES, "draws.csv")


# ---------------------------------------------------------------- the engine --

@pytest.fixture
def sets(tmp_path):
    return write_sets(tmp_path / "sets")


def run(root, sets, variants, **kw):
    out = outputs(root / "heads", list(variants))
    engine.train_variants(**{n: s["plain"] for n, s in sets.items()}, **out, variants=variants,
                          train=TRAIN, domain_sample=0, data_seed=0, classes=CLASSES, seeds=SEEDS,
                          **kw)
    return out


def test_a_budget_trains_on_its_seeds_draw_of_photos(tmp_path, sets):
    draws = draws_file(sets, tmp_path)
    v = {"r@2": Variant(target_labels={"use": "only", "per_class": 2}),
         "p@2": Variant(source={"size": 20}, target_labels={"use": "pooled", "per_class": 2})}
    out = run(tmp_path, sets, v, draws=draws)
    for k, seed in enumerate(SEEDS):
        real, pooled = read_json(out["metrics"][k]), read_json(out["metrics"][len(SEEDS) + k])
        assert real["n_train"] == real["real_labels"] == 2 * 3 and real["labels"] == "target"
        assert pooled["n_train"] == 48 + 6 and pooled["real_labels"] == 6
        assert pooled["target_labels"] == {"use": "pooled", "per_class": 2,
                                           "photos_per_class": 2.0, "draw": seed}
        assert "criteria" not in real and "proxy_a_distance" not in real
    # The rows a model trained on are its draw's photos.
    data = engine.load_data(*(sets[n]["plain"] for n in ("source", "pool", "real_test",
                                                          "target_labeled")),
                            v["r@2"].feature_kinds, CLASSES, draws)
    for seed in SEEDS:
        split, val, n_syn = data.splits(v["r@2"], seed)
        paths = [data.oracle_paths[r - len(data.source)] for r in split.rows]
        assert paths == budgets.photos(read_csv(draws), seed, 2, CLASSES, draws) and n_syn == 0
        assert len(val) == 9  # the target-validation split, never trained on


def test_all_photos_is_the_oracles_split_whatever_the_seed(tmp_path, sets):
    data = engine.load_data(*(sets[n]["plain"] for n in ("source", "pool", "real_test",
                                                          "target_labeled")),
                            Variant().feature_kinds, CLASSES)
    oracle = Variant(target_labels={"use": "only"})
    rows = [data.splits(oracle, s)[0].rows for s in SEEDS]
    assert all(np.array_equal(r, rows[0]) for r in rows) and len(rows[0]) == 15


def test_pooled_photos_mix_into_every_minibatch(tmp_path, sets):
    draws = draws_file(sets, tmp_path)
    data = engine.load_data(*(sets[n]["plain"] for n in ("source", "pool", "real_test",
                                                          "target_labeled")),
                            Variant().feature_kinds, CLASSES, draws)
    spec = Variant(source={"size": 20}, target_labels={"use": "pooled", "per_class": 1}, mixing=3)
    members, _, n_syn = data.splits(spec, 0)
    assert n_syn == 48 and len(members.rows) == 51
    steps = engine.plan_for(spec, members, n_syn, 16)(stacked.Stream(0))
    # real:synthetic = 1:3 of 16: 4 of the 3 photos (cycled) and 12 synthetic per minibatch.
    assert all((s.positions >= n_syn).sum() == 4 for s in steps) and len(steps) == 4


def test_bridged_transfer_continues_the_stage_1_models(tmp_path, sets):
    draws = draws_file(sets, tmp_path)
    first = run(tmp_path / "a", sets, {"src": Variant(source={"size": 20})})
    still = Train(epochs=1, batch_size=16, lr=1e-30)  # stage 2 that cannot move the weights
    out = outputs(tmp_path / "b" / "heads", ["br@2", "r@2"])
    engine.train_variants(
        **{n: s["plain"] for n, s in sets.items()}, **out, train=still, domain_sample=0,
        data_seed=0, classes=CLASSES, seeds=SEEDS, draws=draws,
        variants={"br@2": Variant(target_labels={"use": "bridged", "per_class": 2,
                                                 "start": {"source": {"size": 20}}}),
                  "r@2": Variant(target_labels={"use": "only", "per_class": 2})},
        starts={"br@2": "src"}, start_models=first["heads"])
    for k in range(len(SEEDS)):
        start, bridged = head.load(first["heads"][k])[0], head.load(out["heads"][k])[0]
        fresh = head.load(out["heads"][len(SEEDS) + k])[0]
        assert all(torch.allclose(p, q) for p, q in zip(start.parameters(), bridged.parameters()))
        assert not torch.allclose(start.linear.weight, fresh.linear.weight)
        assert read_json(out["metrics"][k])["start"]["variant"] == "src"
    with pytest.raises(ValueError, match="bridged transfer needs one stage-1 model per seed"):
        engine.train_variants(
            **{n: s["plain"] for n, s in sets.items()}, **outputs(tmp_path / "c", ["br@2"]),
            train=still, domain_sample=0, data_seed=0, classes=CLASSES, seeds=SEEDS, draws=draws,
            variants={"br@2": Variant(target_labels={"use": "bridged", "per_class": 2,
                                                     "start": {}})})


# ------------------------------------------------------------ the last block --

POSITIONS = 4


def block_sets(tmp_path, sets):
    """`sets` with block inputs [N, 4, 320] beside the plain features, and a backbone of random
    MobileNetV2 weights (its last block is what a block model starts from)."""
    from torchvision.models import mobilenet_v2

    rng = np.random.default_rng(0)
    out = {}
    for name, s in sets.items():
        rows = s["plain"].rows()
        X = s["plain"].lookup([r["path"] for r in rows], "plain")
        B = (rng.normal(0, 0.3, (len(rows), POSITIONS, 320)) + np.resize(X, (len(rows), 1, 320))
             ).astype(np.float16)
        path = tmp_path / "block" / f"{name}.npz"
        save_features(path, B, [r["path"] for r in rows], name, "block")
        out[name] = type(s["plain"])(name, s["plain"].manifest, str(path))
    torch.manual_seed(0)
    torch.save(mobilenet_v2(weights=None).state_dict(), tmp_path / "w.pth")
    write_json({"path": str(tmp_path / "w.pth")}, tmp_path / "backbone.json")
    return out, str(tmp_path / "backbone.json")


def test_the_block_loss_is_the_block_nets_own_loss():
    torch.manual_seed(0)
    nets = [head.BlockNet.around(head.Head(3, 0.0)) for _ in range(2)]
    x = torch.randn(2, 5, POSITIONS, 320)
    y = torch.randint(0, 3, (2, 5))
    params = {n: torch.stack([stacked._layout(dict(net.named_parameters())[n]) for net in nets])
              for n, _ in nets[0].named_parameters()}
    batch = stacked.Batch(x, y, torch.full((2, 5), 0.2), [5, 5], None,
                          [stacked.Stream(0), stacked.Stream(1)], 0.0)
    got = stacked.with_block(stacked.head_loss(0.0))(params, batch)["loss"]
    want = torch.stack([F.cross_entropy(net(x[k]), y[k]) for k, net in enumerate(nets)])
    assert torch.allclose(got, want, atol=1e-5)  # both blocks in bfloat16
    for net in nets:
        net.block.bfloat16 = False
    exact = torch.stack([F.cross_entropy(net(x[k]), y[k]) for k, net in enumerate(nets)])
    assert torch.allclose(got, exact, rtol=2e-2) and not torch.equal(got, exact)


def test_a_block_model_trains_its_block_from_the_pretrained_one(tmp_path, sets):
    from synth2real.model.backbone import last_block_weights, load_backbone

    blocks, backbone = block_sets(tmp_path, sets)
    spec = Variant(source={"size": 20}, trainable={"kind": "last_block", "epochs": 2})
    out = outputs(tmp_path / "heads", ["b"])
    engine.train_variants(**blocks, **out, variants={"b": spec}, train=TRAIN, domain_sample=20,
                          data_seed=0, classes=CLASSES, seeds=SEEDS, backbone=backbone)
    pretrained = last_block_weights(load_backbone(tmp_path / "w.pth").features)
    for k, path in enumerate(out["heads"]):
        net = head.load(path)[0]
        assert isinstance(net, head.BlockNet) and isinstance(net.classifier, head.Head)
        moved = (net.block.linear.weight - pretrained["linear.weight"]).abs().max().item()
        # Trained from the pretrained block, at 0.1 x the rate: Adam moves a weight by at most
        # about the rate per step (6 steps: 2 epochs of 48 rows in minibatches of 16).
        assert 0 < moved <= 6 * TRAIN.lr * 0.1 * 1.01
        m = read_json(out["metrics"][k])
        assert m["history"]["lr"] == [TRAIN.lr] * 2  # its own epochs
        assert "proxy_a_distance" in m and set(m["criteria"]) >= {"pool_entropy"}
        X = blocks["real_test"].lookup([r["path"] for r in blocks["real_test"].rows()], "block")
        assert m["test"]["pred"] == head.logits(net, X).argmax(1).tolist()


def test_a_block_job_needs_the_backbone(tmp_path, sets):
    blocks, _ = block_sets(tmp_path, sets)
    with pytest.raises(ValueError, match="block inputs need the backbone"):
        engine.train_variants(**blocks, **outputs(tmp_path / "h", ["b"]),
                              variants={"b": Variant(trainable="last_block")}, train=TRAIN,
                              domain_sample=0, data_seed=0, classes=CLASSES, seeds=SEEDS)


def test_folding_the_batchnorm_keeps_the_pretrained_blocks_output():
    from torchvision.models import mobilenet_v2

    from synth2real.model.backbone import LAST_BLOCK, last_block_weights

    torch.manual_seed(0)
    features = mobilenet_v2(weights=None).features.eval()
    bn = features[LAST_BLOCK][1]  # non-trivial statistics, as pretrained ones are
    bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2), bn.weight.data.uniform_(0.5, 2)
    x = torch.randn(2, 320, 7, 7)
    block = head.LastBlock()
    block.load_state_dict(last_block_weights(features))
    block.bfloat16 = False
    with torch.no_grad():
        want = features[LAST_BLOCK](x).mean((2, 3))
        got = block(x.flatten(2).transpose(1, 2))
    assert torch.allclose(got, want, atol=1e-5)
