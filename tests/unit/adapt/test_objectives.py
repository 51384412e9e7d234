"""Pool objectives: the three losses' defining properties, and fitting them on a shifted toy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synth2real.adapt import objectives, variants
from synth2real.config import Coral, Im, Mcc, Train
from synth2real.config.methods import OBJECTIVES
from synth2real.model import head
from tests.unit.adapt.test_dann import shifted_domains

TRAIN = Train(epochs=25, batch_size=32, step_size=100)


def logits_of(probs: list[list[float]]) -> torch.Tensor:
    return torch.log(torch.tensor(probs))


def test_every_configured_objective_has_a_loss():
    assert set(objectives.TARGET_TERMS) == set(OBJECTIVES)


def test_mcc_is_lower_for_confident_distinct_predictions_than_for_confused_ones():
    confident = logits_of([[0.96, 0.02, 0.02], [0.02, 0.96, 0.02], [0.02, 0.02, 0.96]])
    confused = logits_of([[0.5, 0.48, 0.02], [0.48, 0.5, 0.02], [0.02, 0.02, 0.96]])
    for t in (1.0, 2.5):
        low, high = objectives.mcc_loss(confident, t), objectives.mcc_loss(confused, t)
        assert 0 <= low < high
    # Temperature spreads the probabilities: more confusion measured at T = 2.5 than at T = 1.
    assert objectives.mcc_loss(confident, 2.5) > objectives.mcc_loss(confident, 1.0)


def test_coral_is_zero_for_equal_moments_and_grows_with_the_covariance_gap():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 5, generator=g)
    perm = x[torch.randperm(200, generator=g)]  # the same rows: same mean and covariance
    assert objectives.coral_loss(x, perm).item() == pytest.approx(0.0, abs=1e-10)
    scales = [objectives.coral_loss(x, x * s).item() for s in (1.5, 3.0)]
    assert 0 < scales[0] < scales[1]
    assert objectives.coral_loss(x, x + 1.0).item() > 0.5  # the mean term sees a shift
    assert torch.isfinite(objectives.coral_loss(x[:1], x[1:2]))  # a one-row batch is defined


def test_im_is_lowest_for_confident_and_balanced_predictions():
    best = logits_of([[0.98, 0.01, 0.01], [0.01, 0.98, 0.01], [0.01, 0.01, 0.98]])
    collapsed = logits_of([[0.98, 0.01, 0.01]] * 3)  # confident, one class only
    uncertain = logits_of([[1 / 3] * 3] * 3)  # balanced on average, no confidence
    im = {k: objectives.im_loss(v).item() for k, v in
          {"best": best, "collapsed": collapsed, "uncertain": uncertain}.items()}
    assert im["best"] < im["collapsed"] and im["best"] < im["uncertain"]
    assert im["best"] == pytest.approx(-np.log(3), abs=0.15)
    # Without the diversity term the collapsed batch is as good as the balanced one.
    assert objectives.im_loss(collapsed, 1.0, 0.0).item() == pytest.approx(
        objectives.im_loss(best, 1.0, 0.0).item())


def pool_term(kind: str, net: head.BottleneckNet, Xs: np.ndarray, Xt: np.ndarray) -> float:
    """The objective's unweighted pool loss over the whole source and pool, in eval mode."""
    with torch.inference_mode():
        zs, zt = net.eval().embed(torch.from_numpy(Xs)), net.embed(torch.from_numpy(Xt))
        gt = net.classifier(zt)
        return {"mcc": lambda: objectives.mcc_loss(gt, 2.5),
                "coral": lambda: objectives.coral_loss(zs, zt),
                "im": lambda: objectives.im_loss(gt)}[kind]().item()


OFF = {"mcc": Mcc(weight=0.0), "coral": Coral(weight=0.0), "im": Im(entropy=0.0, diversity=0.0)}


@pytest.mark.parametrize("kind", sorted(OBJECTIVES))
def test_training_lowers_the_pool_loss_and_still_classifies_the_source(kind):
    Xs, y, Xt = shifted_domains(shift=1.5)
    settings = OBJECTIVES[kind](bottleneck=16)
    on, hist = objectives.train_objective(kind, Xs, y, Xt, 3, TRAIN, settings, seed=0)
    off, _ = objectives.train_objective(kind, Xs, y, Xt, 3, TRAIN,
                                        OFF[kind].model_copy(update={"bottleneck": 16}), seed=0)
    assert (head.predict_proba(on, Xs).argmax(1) == y).mean() > 0.95
    assert pool_term(kind, on, Xs, Xt) < pool_term(kind, off, Xs, Xt)
    assert len(hist.class_loss) == len(hist.target_loss) == TRAIN.epochs
    assert hist.class_loss[-1] < hist.class_loss[0]


def test_training_is_deterministic_per_seed_and_follows_the_study_schedule():
    Xs, y, Xt = shifted_domains(n=90)
    train = Train(epochs=4, step_size=2, gamma=0.1, batch_size=16)
    a, hist = objectives.train_objective("mcc", Xs, y, Xt, 3, train, {"bottleneck": 8,
                                                                      "temperature": 2.5,
                                                                      "weight": 1.0}, seed=3)
    b, _ = objectives.train_objective("mcc", Xs, y, Xt, 3, train, Mcc(bottleneck=8), seed=3)
    c, _ = objectives.train_objective("mcc", Xs, y, Xt, 3, train, Mcc(bottleneck=8), seed=4)
    for (k, va), vb, vc in zip(a.state_dict().items(), b.state_dict().values(),
                               c.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    assert not all(torch.equal(va, vc) for va, vc in zip(a.state_dict().values(),
                                                          c.state_dict().values(), strict=True))
    assert hist.lr == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4])


def test_settings_of_another_objective_or_an_unknown_one_are_refused():
    Xs, y, Xt = shifted_domains(n=30)
    with pytest.raises(ValueError):
        objectives.train_objective("mcc", Xs, y, Xt, 3, Train(epochs=1), Coral(weight=2.0), seed=0)
    with pytest.raises(ValueError, match="unknown objective"):
        objectives.train_objective("mmd", Xs, y, Xt, 3, Train(epochs=1), {}, seed=0)


def test_checkpoint_round_trip_and_representation_is_the_bottleneck(tmp_path):
    Xs, y, Xt = shifted_domains(n=60)
    net, _ = objectives.train_objective("coral", Xs, y, Xt, 3, Train(epochs=2), Coral(bottleneck=8),
                                        seed=0)
    head.save(net, tmp_path / "m.pt", ["a", "b", "c"])
    back, classes = head.load(tmp_path / "m.pt")
    assert type(back) is head.BottleneckNet and back.kind == "bottleneck" and classes == ["a", "b", "c"]
    assert np.array_equal(head.predict_proba(back, Xt), head.predict_proba(net, Xt))
    assert variants.representation(back, Xt).shape == (60, 8)
    assert np.array_equal(variants.representation(head.Head(3, in_dim=12), Xt), Xt)


@pytest.mark.parametrize("kind", sorted(OBJECTIVES))
def test_losses_of_stacked_minibatches_are_the_losses_of_each(kind):
    g = torch.Generator().manual_seed(0)
    z_s, z_t, logits = (torch.randn(4, 10, 6, generator=g), torch.randn(4, 10, 6, generator=g),
                        torch.randn(4, 10, 3, generator=g))
    term = objectives.TARGET_TERMS[kind]
    settings = OBJECTIVES[kind]()
    stacked_loss = term(settings, z_s, z_t, logits)
    assert stacked_loss.shape == (4,)
    for k in range(4):
        assert stacked_loss[k].item() == pytest.approx(term(settings, z_s[k], z_t[k], logits[k]).item(),
                                                       rel=1e-6)


@pytest.mark.parametrize("kind", sorted(OBJECTIVES))
def test_batched_objective_nets_equal_one_seed_nets(kind):
    Xs, y, Xt = shifted_domains(n=90, shift=1.5)
    train = Train(epochs=3, step_size=2, batch_size=16)
    settings = OBJECTIVES[kind](bottleneck=8)
    batched = objectives.train_objectives(kind, Xs, y, Xt, 3, train, settings, [0, 5])
    for seed, (net, hist) in zip([0, 5], batched):
        alone, hist_alone = objectives.train_objective(kind, Xs, y, Xt, 3, train, settings, seed)
        for (name, pa), pb in zip(alone.named_parameters(), net.parameters(), strict=True):
            assert torch.allclose(pa, pb, atol=1e-6, rtol=0), name
        assert np.array_equal(head.logits(alone, Xt).argmax(1), head.logits(net, Xt).argmax(1))
        assert hist.class_loss == pytest.approx(hist_alone.class_loss, rel=1e-5)
        assert hist.target_loss == pytest.approx(hist_alone.target_loss, rel=1e-4, abs=1e-7)
        assert hist.lr == hist_alone.lr
