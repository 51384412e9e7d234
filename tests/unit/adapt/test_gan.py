"""The GAN refiners (SimGAN, CycleGAN, MrGAN): their nets' shapes, bit-identical runs and
resumes, refused checkpoints, and small learning problems with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from synth2real.adapt.pixel import gan
from synth2real.config import CycleGan, MrGan, SimGan
from synth2real.config.pixel import GanSchedule


@pytest.fixture(autouse=True)
def one_thread():
    # Bit-identity holds for a given thread count, and one thread is the fastest for nets this
    # small (and the least disturbed by a busy machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def textures(n: int, side: int = 16, tint=(1.0, 1.0, 1.0), seed: int = 0) -> np.ndarray:
    """uint8 [n, side, side, 3]: blocky grey textures (4 px cells) times an RGB tint."""
    rng = np.random.default_rng(seed)
    grey = rng.random((n, side // 4, side // 4, 1)).repeat(4, 1).repeat(4, 2) * 0.6 + 0.2
    return (grey * np.array(tint) * 255).round().astype(np.uint8)


def simgan(**kw) -> SimGan:
    kw = {"channels": 4, "blocks": 1, "history": 8, "pretrain_refiner": 3,
          "pretrain_discriminator": 2, "schedule": GanSchedule(steps=3, batch_size=4,
                                                               checkpoint_every=2)} | kw
    return SimGan(**kw)


def cyclegan(steps: int = 6, **kw) -> CycleGan:
    kw = {"ngf": 4, "ndf": 4, "blocks": 1, "pool": 3,
          "schedule": GanSchedule(steps=steps, batch_size=2, checkpoint_every=2)} | kw
    return CycleGan(**kw)


def mrgan() -> MrGan:
    return MrGan(stage1=cyclegan(3), stage2=cyclegan(3))


SETTINGS = {"simgan": simgan, "cyclegan": cyclegan, "mrgan": mrgan}
SOURCE, TARGET = textures(12, tint=(1, 0.5, 0.5)), textures(10, tint=(0.5, 0.5, 1), seed=1)


def run(part, tmp_path, name="ckpt.pt", seed=0, settings=None, **kw):
    return gan.train(part, settings or SETTINGS[part](), SOURCE, TARGET, seed=seed,
                     checkpoint=tmp_path / name, **kw)


@pytest.mark.parametrize("part", ["simgan", "cyclegan", "mrgan"])
def test_each_part_refines_uint8_images_of_any_side_divisible_by_four(part, tmp_path):
    refiner, record = run(part, tmp_path)
    out = refiner(SOURCE, batch_size=5)  # batches of 5, 5, 2
    assert out.shape == SOURCE.shape and out.dtype == np.uint8
    small = textures(3, side=8)
    assert refiner(small).shape == small.shape
    x = torch.linspace(-1, 1, 3 * 16 * 16).reshape(1, 3, 16, 16)
    y = refiner.module(x)
    assert y.shape == x.shape and y.abs().max() <= 1 and not y.requires_grad
    json.dumps(record)
    planned = {"simgan": 3 + 2 + 3, "cyclegan": 6, "mrgan": 6}[part]
    assert record["finished"] and record["steps"] == {"planned": planned, "done": planned,
                                                      "this_call": planned}
    assert record["parameters"] == sum(p.numel() for p in refiner.module.parameters())
    assert record["part"] == part and record["device"] == "cpu"
    names = {"simgan": {"reg", "refiner_adv", "disc"},
             "cyclegan": {"gan_ab", "gan_ba", "cycle", "identity", "disc_a", "disc_b"}}
    if part == "mrgan":
        assert set(record["losses"]) == {"stage1", "stage2"}
        assert all(set(v) == names["cyclegan"] for v in record["losses"].values())
        assert isinstance(refiner.module[1], gan.Quantise) and len(refiner.module) == 3
    else:
        assert set(record["losses"]) == names[part]
    assert (tmp_path / "ckpt.pt").exists()  # kept for the caller to delete
    with pytest.raises(ValueError, match="uint8"):
        refiner(SOURCE.astype(np.float32))


def test_simgan_nets_keep_the_image_and_judge_patches():
    refiner = gan.simgan_refiner(8, 3)
    assert sum(isinstance(m, gan.SimResBlock) for m in refiner.modules()) == 3
    x = torch.zeros(2, 3, 32, 32)
    assert refiner(x).shape == x.shape
    # Per-patch 2-class logits: an 8 x 8 map of patches at 32 px, widths 96-64-32-32 at 64.
    assert gan.simgan_discriminator(64)(x).shape == (2, 2, 8, 8)
    assert gan.simgan_discriminator(64)[0].out_channels == 96
    assert gan.simgan_discriminator(8)(x[:, :, :8, :8]).shape == (2, 2, 2, 2)


def test_cyclegan_nets_keep_the_image_and_judge_patches():
    g = gan.cyclegan_generator(4, 5)
    assert sum(isinstance(m, gan.CycleResBlock) for m in g.modules()) == 5
    d = gan.patchgan(4)
    for side, patches in ((32, 6), (16, 4), (8, 3)):
        x = torch.rand(2, 3, side, side) * 2 - 1
        assert g(x).shape == x.shape
        assert d(x).shape == (2, 1, patches, patches)


def test_quantise_puts_values_on_the_8_bit_grid():
    x = torch.tensor([-1.0, -0.99, 0.0, 0.5, 1.0])
    q = gan.Quantise()(x)
    assert torch.allclose((q + 1) * 127.5, torch.round((q + 1) * 127.5), atol=1e-4)
    assert (q - x).abs().max() <= 1 / 255 + 1e-6
    assert gan.Quantise()(q).equal(q)


@pytest.mark.parametrize("part", ["simgan", "cyclegan", "mrgan"])
def test_a_seed_gives_the_same_bytes_and_another_seed_others(part, tmp_path):
    a = run(part, tmp_path, "a.pt", seed=3)[0](SOURCE)
    b = run(part, tmp_path, "b.pt", seed=3)[0](SOURCE)
    c = run(part, tmp_path, "c.pt", seed=4)[0](SOURCE)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(("part", "cuts"), [
    ("simgan", [2]),      # inside the refiner's pretraining; the resume crosses both phases
    ("simgan", [4, 2]),   # inside the discriminator's pretraining, then the first adversarial
    ("cyclegan", [3]),    # mid-run, between checkpoints (every 2 steps)
    ("mrgan", [2]),       # in stage 1; the resume crosses into stage 2
    ("mrgan", [3, 1]),    # at the stage boundary, then one step of stage 2
])
def test_an_interrupted_run_resumes_bit_identically(part, cuts, tmp_path):
    whole, whole_record = run(part, tmp_path, "whole.pt")
    done = 0
    for cut in cuts:
        _, record = run(part, tmp_path, "cut.pt", max_steps=cut)
        done += cut
        assert not record["finished"]
        assert record["steps"]["done"] == done and record["steps"]["this_call"] == cut
    resumed, record = run(part, tmp_path, "cut.pt")
    assert record["finished"]
    assert record["steps"]["this_call"] == record["steps"]["planned"] - done
    assert np.array_equal(whole(SOURCE), resumed(SOURCE))
    assert record["losses"] == whole_record["losses"]
    # A finished checkpoint resumes to the same refiner without another step.
    again, record = run(part, tmp_path, "cut.pt")
    assert record["steps"]["this_call"] == 0 and np.array_equal(again(SOURCE), whole(SOURCE))


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    run("simgan", tmp_path, max_steps=1)
    with pytest.raises(ValueError, match=r"ckpt\.pt.*delete it"):
        run("simgan", tmp_path, settings=simgan(reg=0.25))
    with pytest.raises(ValueError, match=r"ckpt\.pt"):
        run("simgan", tmp_path, seed=1)
    with pytest.raises(TypeError, match="SimGan"):
        run("simgan", tmp_path, "other.pt", settings=cyclegan())


def test_mrgan_stage_two_takes_stage_one_architecture(tmp_path):
    settings = MrGan(stage1=cyclegan(1), stage2=cyclegan(1, ngf=8))
    with pytest.raises(ValueError, match="stage 1's"):
        run("mrgan", tmp_path, settings=settings)


def test_simgan_pretraining_on_a_large_reg_learns_the_identity(tmp_path):
    images = np.random.default_rng(5).integers(0, 256, (64, 16, 16, 3), dtype=np.uint8)
    settings = SimGan(channels=8, blocks=1, reg=100, pretrain_refiner=150,
                      schedule=GanSchedule(steps=1, batch_size=8, lr=1e-2))

    def error(steps: int) -> float:
        refiner, record = gan.train("simgan", settings, images, TARGET, seed=0, max_steps=steps,
                                    checkpoint=tmp_path / f"{steps}.pt")
        assert record["steps"]["done"] == steps and set(record["losses"]) <= {"reg"}
        return np.abs(refiner(images).astype(float) - images).mean() / 255

    assert error(0) > 0.15  # untrained: far from the identity
    assert error(150) < 0.05


def test_cyclegan_adversarial_loss_moves_the_colours_to_the_target(tmp_path):
    # Red-tinted textures -> blue-tinted ones, the adversarial loss alone (cycle weight 0, so
    # identity 0 too: with them, the B -> A -> B cycle and the identity term on blue images
    # teach G_ab blue by themselves, even with G_ab's adversarial sign flipped). The refined
    # images' blue-minus-red mean must go 3/4 of the way (5 seeds: 0.35-0.49 of 0.35; with
    # the generator's LSGAN target flipped to 0: -0.51-0.11).
    source, target = textures(64, tint=(1, 0.3, 0.3)), textures(64, tint=(0.3, 0.3, 1), seed=1)

    def blue_minus_red(x: np.ndarray) -> float:
        mean = x.reshape(-1, 3).mean(0) / 255
        return mean[2] - mean[0]

    settings = CycleGan(ngf=8, ndf=8, blocks=1, pool=16, cycle=0,
                        schedule=GanSchedule(steps=40, batch_size=4, lr=1e-3))
    refiner, _ = gan.train("cyclegan", settings, source, target, seed=0,
                           checkpoint=tmp_path / "c.pt")
    before, after, goal = blue_minus_red(source), blue_minus_red(refiner(source)), \
        blue_minus_red(target)
    assert before < -0.3 and goal > 0.3
    assert after > before + 0.75 * (goal - before)


def test_mrgan_refines_beyond_its_first_stage(tmp_path):
    refiner, _ = run("mrgan", tmp_path)
    first = gan.Refiner(refiner.module[0])
    assert not np.array_equal(first(SOURCE), refiner(SOURCE))
    # The refiner is G2 on the 8-bit stage-1 images (what stage 2 trained on).
    second = gan.Refiner(refiner.module[2])
    assert np.array_equal(second(first(SOURCE)), refiner(SOURCE))


def test_cyclegan_rate_is_constant_then_linear_to_zero():
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = gan.cyclegan_scheduler(opt, 10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    assert lrs == pytest.approx([0.1] * 6 + [0.08, 0.06, 0.04, 0.02])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0)
    # The trained run's schedulers follow it (checkpointed with the run).
    assert gan.lr_factor(3, 7) == 1.0 and gan.lr_factor(7, 7) == 0.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("part", ["simgan", "cyclegan", "mrgan"])
def test_a_tiny_run_trains_on_cuda(part, tmp_path):
    refiner, record = run(part, tmp_path, device="cuda")
    out = refiner(SOURCE)
    assert record["device"] == "cuda" and record["finished"]
    assert out.shape == SOURCE.shape and out.dtype == np.uint8
    assert next(refiner.module.parameters()).is_cuda
