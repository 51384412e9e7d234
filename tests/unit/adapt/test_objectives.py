"""Pool objectives: the three losses' defining properties, and fitting them on a shifted toy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synth2real.adapt import engine, objectives
from synth2real.config import Coral, Im, Mcc, PoolObjective, Train
from synth2real.model import head, stacked
from tests import reference_trainers as ref
from tests.unit.adapt.test_dann import shifted_domains

TRAIN = Train(epochs=25, batch_size=32, step_size=100)
OBJECTIVES = {"mcc": Mcc, "coral": Coral, "im": Im}


def fit(objective: PoolObjective, Xs, ys, Xp, train: Train, seeds: list[int]):
    """The engine's bottleneck nets (one per seed) on source (Xs, ys) and pool Xp."""
    table = torch.from_numpy(np.concatenate([Xs, Xp]).astype(np.float32))
    return objectives.train_objective(objective, stacked.Members(np.arange(len(ys)), ys),
                                      len(ys) + np.arange(len(Xp)), table, 3, train, seeds)


def test_every_pool_objective_of_the_config_has_a_loss():
    assert set(objectives.POOL_TERMS) == set(PoolObjective.__args__)


def logits_of(probs: list[list[float]]) -> torch.Tensor:
    return torch.log(torch.tensor(probs))


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
    (on,), (hist,) = fit(OBJECTIVES[kind](bottleneck=16), Xs, y, Xt, TRAIN, [0])
    (off,), _ = fit(OFF[kind].model_copy(update={"bottleneck": 16}), Xs, y, Xt, TRAIN, [0])
    assert (head.predict_proba(on, Xs).argmax(1) == y).mean() > 0.95
    assert pool_term(kind, on, Xs, Xt) < pool_term(kind, off, Xs, Xt)
    assert hist.terms["class_loss"][-1] < hist.terms["class_loss"][0]
    assert len(hist.terms["pool_loss"]) == len(hist.lr) == TRAIN.epochs


def test_checkpoint_round_trip_and_representation_is_the_bottleneck(tmp_path):
    Xs, y, Xt = shifted_domains(n=60)
    (net,), _ = fit(Coral(bottleneck=8), Xs, y, Xt, Train(epochs=2), [0])
    head.save(net, tmp_path / "m.pt", ["a", "b", "c"])
    back, classes = head.load(tmp_path / "m.pt")
    assert type(back) is head.BottleneckNet and back.kind == "bottleneck" and classes == ["a", "b", "c"]
    assert np.array_equal(head.predict_proba(back, Xt), head.predict_proba(net, Xt))
    assert engine.representation(back, Xt).shape == (60, 8)
    assert np.array_equal(engine.representation(head.Head(3, in_dim=12), Xt), Xt)


@pytest.mark.parametrize("kind", sorted(OBJECTIVES))
def test_losses_of_stacked_minibatches_are_the_losses_of_each(kind):
    g = torch.Generator().manual_seed(0)
    z_s, z_t, logits = (torch.randn(4, 10, 6, generator=g), torch.randn(4, 10, 6, generator=g),
                        torch.randn(4, 10, 3, generator=g))
    settings = OBJECTIVES[kind]()
    term = objectives.POOL_TERMS[type(settings)]
    stacked_loss = term(settings, z_s, z_t, logits)
    assert stacked_loss.shape == (4,)
    for k in range(4):
        assert stacked_loss[k].item() == pytest.approx(term(settings, z_s[k], z_t[k], logits[k]).item(),
                                                       rel=1e-6)


@pytest.mark.parametrize("kind", sorted(OBJECTIVES))
def test_stacked_objective_nets_equal_one_model_reference_nets(kind):
    Xs, y, Xt = shifted_domains(n=90, shift=1.5)
    train = Train(epochs=3, step_size=2, batch_size=16)
    settings = OBJECTIVES[kind](bottleneck=8)
    nets, _ = fit(settings, Xs, y, Xt, train, [0, 5])
    for seed, net in zip([0, 5], nets):
        alone = ref.train_objective(settings, Xs, y, Xt, 3, train, seed)
        for (name, pa), pb in zip(alone.named_parameters(), net.parameters(), strict=True):
            assert torch.allclose(pa, pb, atol=1e-5, rtol=0), name
        assert np.array_equal(head.logits(alone, Xt).argmax(1), head.logits(net, Xt).argmax(1))
