"""The core of each adaptation method: selection quotas, OOD scores, gradient reversal,
AdaBN, minibatch mixing, DANN, proxy A-distance, and the variant registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from synth2real.adapt import adabn, dann, mixing, selection
from synth2real.adapt import variants as methods
from synth2real.analysis import domain
from synth2real.config import Dann, Train, load_file
from tests.conftest import REPO


def probs_of(labels, conf, k=3):
    p = np.full((len(labels), k), 0.0)
    for i, (c, q) in enumerate(zip(labels, conf)):
        p[i] = (1 - q) / (k - 1)
        p[i, c] = q
    return p


# ---------------------------------------------------------- selection -----


def test_balanced_selection_respects_quota_and_keeps_most_confident():
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(60, int), np.ones(30, int), np.full(10, 2)]  # class 0 floods the pool
    conf = rng.uniform(0.4, 1.0, 100)
    p = probs_of(labels, conf)
    idx, lab = selection.balanced(p, share=0.6)  # quota = int(0.6 * 100 / 3) = 20
    counts = np.bincount(lab, minlength=3)
    assert counts.tolist() == [20, 20, 10]  # class 2 has only 10 predictions: keeps them all
    for k in (0, 1):
        chosen = conf[idx[lab == k]]
        rest = np.setdiff1d(np.flatnonzero(labels == k), idx)
        assert chosen.min() >= conf[rest].max()
    assert np.all(np.diff(idx) > 0)


def test_balanced_selection_applies_threshold_and_candidates():
    p = probs_of([0, 0, 1, 1, 2, 2], [0.9, 0.5, 0.95, 0.8, 0.6, 0.99])
    # 5 candidates, 3 classes: quota int(5/3) = 1 per class; image 5 is no candidate,
    # 1 and 4 are below the threshold, 3 is over class 1's quota.
    idx, lab = selection.balanced(p, share=1.0, threshold=0.7, candidates=np.array([0, 1, 2, 3, 4]))
    assert idx.tolist() == [0, 2] and lab.tolist() == [0, 1]


def test_energy_and_entropy_rank_flat_logits_as_out_of_domain():
    logits = np.array([[8.0, 0.0, 0.0], [0.1, 0.0, 0.05], [5.0, 4.0, 0.0]])
    for score in ("energy", "entropy"):
        s = selection.ood_score(logits, score)
        assert s.argmax() == 1 and s.argmin() == 0
    kept = selection.in_domain(logits, "energy", reject_share=1 / 3)
    assert kept.tolist() == [0, 2]


def test_threshold_selection_restricted_to_candidates():
    p = probs_of([0, 1, 2], [0.9, 0.9, 0.9])
    idx, lab = selection.threshold(p, 0.51, candidates=np.array([0, 2]))
    assert idx.tolist() == [0, 2] and lab.tolist() == [0, 2]


# --------------------------------------------------------------- DANN -----


def test_gradient_reversal_flips_and_scales_the_gradient():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = dann.grad_reverse(x, 0.5)
    assert torch.equal(y, x)  # identity forward
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([-0.5, -1.0, -1.5]))


def test_reversal_weight_ramps_from_zero_towards_one():
    assert dann.ramp(0.0, 10.0) == 0.0
    vals = [dann.ramp(p, 10.0) for p in np.linspace(0, 1, 11)]
    assert all(a < b for a, b in zip(vals, vals[1:])) and 0.99 < vals[-1] < 1.0


def shifted_domains(n=300, shift=1.0, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = rng.normal(0, 1, (3, 12)) * 4
    Xs = centers[y] + rng.normal(0, 1, (n, 12))
    Xt = centers[rng.integers(0, 3, n)] + rng.normal(0, 1, (n, 12)) + shift  # a constant domain shift
    return Xs.astype(np.float32), y, Xt.astype(np.float32)


def test_dann_learns_labels_and_brings_the_domains_closer_than_no_reversal():
    Xs, y, Xt = shifted_domains()
    train = Train(epochs=40, batch_size=32, step_size=100)
    pads = {}
    for w in (0.0, 1.0):  # same net and data; only the reversed domain gradient differs
        net, hist = dann.train_dann(Xs, y, Xt, 3, train,
                                    Dann(bottleneck=16, hidden=32, epochs=40, domain_weight=w), seed=0)
        assert (net(torch.from_numpy(Xs)).argmax(1).numpy() == y).mean() > 0.95
        pads[w] = domain.proxy_a_distance(dann.embed(net, Xs), dann.embed(net, Xt), 300)
    assert hist.lam[-1] > hist.lam[0] >= 0
    assert pads[1.0] < pads[0.0] - 0.2


# -------------------------------------------------------------- AdaBN -----


def tiny_backbone():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3),
                         nn.BatchNorm2d(4), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()


def test_adabn_changes_only_batchnorm_statistics():
    torch.manual_seed(0)
    bb = tiny_backbone()
    before = {k: v.clone() for k, v in bb.state_dict().items()}
    rng = np.random.default_rng(0)
    target = [(rng.normal(2.0, 3.0, (8, 3, 12, 12))).astype(np.float32) for _ in range(4)]
    adapted, info = adabn.adapt(bb, target)
    after = adapted.state_dict()
    stats_keys = {k for k in after if k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    for k, v in after.items():
        if k in stats_keys:
            continue
        assert torch.equal(v, before[k]), f"{k} changed"  # weights, BN affine: untouched
    assert not torch.allclose(after["1.running_mean"], before["1.running_mean"])
    assert not torch.allclose(after["4.running_var"], before["4.running_var"])
    for k, v in bb.state_dict().items():
        assert torch.equal(v, before[k])  # the original is not modified
    assert not adapted.training and info["images"] == 32 and info["bn_layers"] == 2


def test_adabn_statistics_are_the_target_population_statistics():
    torch.manual_seed(0)
    bb = nn.Sequential(nn.BatchNorm2d(3)).eval()
    rng = np.random.default_rng(1)
    data = rng.normal(5.0, 2.0, (64, 3, 4, 4)).astype(np.float32)
    adapted, _ = adabn.adapt(bb, [data[:32], data[32:]])
    # cumulative average over equal batches = the population mean per channel
    assert np.allclose(adapted[0].running_mean.numpy(), data.mean(axis=(0, 2, 3)), atol=1e-5)


# ------------------------------------------------------------- mixing -----


@pytest.mark.parametrize("ratio,expected", [(1, (16, 16)), (7, (4, 28)), (15, (2, 30))])
def test_minibatch_split_follows_the_ratio(ratio, expected):
    assert mixing.split_batch(32, ratio) == expected


def test_mixed_training_learns_and_needs_real_images():
    Xs, y, _ = shifted_domains()
    head, hist = mixing.train_head_mixed(Xs, y, Xs[:20], y[:20], 7, 3, Train(epochs=20, step_size=100), seed=0)
    assert (head(torch.from_numpy(Xs)).argmax(1).numpy() == y).mean() > 0.95
    assert len(hist.loss) == 20
    with pytest.raises(ValueError, match="at least one"):
        mixing.train_head_mixed(Xs, y, Xs[:0], y[:0], 7, 3, Train(epochs=1), seed=0)


# ----------------------------------------------------- proxy A-distance ---


def test_proxy_a_distance_near_zero_for_one_domain_and_two_for_separable():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (400, 8)), rng.normal(0, 1, (400, 8))
    assert domain.proxy_a_distance(a, b, 400) < 0.4
    assert domain.proxy_a_distance(a, b + 10, 400) == pytest.approx(2.0)


# ----------------------------------------------------------- registry -----


def test_every_enabled_method_is_a_uniquely_named_variant(bundle):
    cfg = load_file(REPO / "config" / "offline.yaml", {"bundle": str(bundle)})
    names = methods.variant_names(cfg)
    assert len(names) == len(set(names))
    assert {"threshold-0.51", "threshold-0.95", "balanced", "self-training", "ood-energy", "adabn",
            "adabn+pl", "dann", "align", "align+adabn+pl", "mix-1to1", "mix-1to15"} <= set(names)
    assert cfg.variants[:3] == ["synthetic-500", "synthetic-1000", "pseudo-label"]
    none = load_file(REPO / "config" / "offline.yaml", {"bundle": str(bundle), "methods": {"enabled": []}})
    assert none.variants == ["synthetic-500", "synthetic-1000", "pseudo-label"]
