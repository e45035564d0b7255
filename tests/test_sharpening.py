"""Real-ESRGAN's sharpened ground truth (`data.sharpen_target`, `training.sharpening`): the unsharp mask itself, the
training targets it sharpens (not the images the inputs are made from, nor validation's) and the config option."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
from PIL import Image

from swinir_hf import SwinIRForImageRestoration
from swinir_hf.training.card import training_card
from swinir_hf.training.config import TrainingConfig
from swinir_hf.training.data import Degradation, TrainingPatches, build_dataset
from swinir_hf.training.gan import build_gan, gan_step
from swinir_hf.training.images import load_images
from swinir_hf.training.recipe import SAMPLE_SETTINGS, checkpoint_record, sample_settings, setting_change
from swinir_hf.training.sharpening import USM_WEIGHT, sharpened
from swinir_hf.training.state import Progress


def test_a_flat_image_is_left_as_it_is():
    flat = np.full((40, 30, 3), 0.37, np.float32)
    out = sharpened(flat)
    assert out.dtype == np.float32 and np.array_equal(out, flat)


def test_an_edge_gets_sharper_within_bounds_and_stays_in_range():
    """A step 0.2 → 0.8: steeper and overshooting on both sides (at most the weight × the step), clipped to [0, 1];
    the same step from 0.05 to 0.95 overshoots, into [0, 1] still. Far from the edge (flat, below the threshold) nothing
    changes. No randomness: the same output each time."""
    edge = np.full((16, 64, 1), 0.2, np.float32)
    edge[:, 32:] = 0.8
    out = sharpened(edge)
    row = out[8, :, 0]
    assert out.dtype == np.float32 and np.array_equal(out, sharpened(edge))
    assert row[31] < 0.2 - 0.05 and row[32] > 0.8 + 0.05  # overshoot on both sides of the edge
    assert row.min() >= 0.2 - USM_WEIGHT * 0.6 and row.max() <= 0.8 + USM_WEIGHT * 0.6
    assert row[32] - row[31] > 0.6 * 1.2  # a steeper step
    assert np.allclose(row[:2], 0.2, atol=1e-3) and np.allclose(row[-2:], 0.8, atol=1e-3)
    strong = np.where(edge > 0.5, np.float32(0.95), np.float32(0.05))
    out = sharpened(strong)
    assert 0.0 <= out.min() < 0.05 and 0.95 < out.max() <= 1.0


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        Image.fromarray(small).resize((48, 48), Image.NEAREST).save(folder / f"img{i}.png")  # hard edges
    return folder


@pytest.mark.parametrize("kind", ["bicubic", "real-esrgan"])
def test_only_the_target_is_sharpened_the_input_comes_from_the_unsharpened_one(photos, kind):
    """With sharpen_target the same key gives the same input (made from the unsharpened patch) and the sharpened
    target; the same sample again for the same key (a resumed run's)."""
    args = dict(patch_size=8, degradation=Degradation(kind, 2), channels=3, seed=3)
    plain = TrainingPatches(load_images(str(photos)), **args)
    sharp = TrainingPatches(load_images(str(photos)), **args, sharpen_target=True)
    for key in (0, 5):
        a, b = plain[key], sharp[key]
        assert torch.equal(a["pixel_values"], b["pixel_values"])
        expected = sharpened(a["labels"].numpy().transpose(1, 2, 0)).transpose(2, 0, 1)
        assert torch.equal(b["labels"], torch.from_numpy(np.ascontiguousarray(expected)))
        assert not torch.equal(a["labels"], b["labels"])
        assert torch.equal(
            TrainingPatches(load_images(str(photos)), **args, sharpen_target=True)[key]["labels"], b["labels"]
        )


def test_the_option_round_trips_reaches_the_data_and_the_card_and_is_part_of_the_samples(photos, tiny_config):
    raw = {"data": {"train": [str(photos)], "degradation": "real-esrgan", "patch_size": 8, "sharpen_target": True}}
    cfg = TrainingConfig.from_dict(raw)
    assert cfg.data.sharpen_target is True and TrainingConfig.from_dict(cfg.to_dict()) == cfg
    assert TrainingConfig.from_dict({"data": {"train": ["x"]}}).data.sharpen_target is False
    model = types.SimpleNamespace(num_channels=3, upscale=2, window_size=8)
    assert build_dataset(cfg, model).sharpen_target is True
    assert "data.sharpen_target" in SAMPLE_SETTINGS  # a resume may not change it
    card = training_card(cfg, SwinIRForImageRestoration(tiny_config()), Progress(step=1), None, None, "me/sharp")
    assert "rotations True; targets sharpened (Real-ESRGAN's unsharp mask)\n" in card
    plain = TrainingConfig.from_dict({"data": {**raw["data"], "sharpen_target": False}})
    assert "rotations True\n" in training_card(
        plain, SwinIRForImageRestoration(tiny_config()), Progress(step=1), None, None, "me/x"
    )


@pytest.mark.parametrize("kind", ["noise", "jpeg"])
def test_a_denoising_or_jpeg_config_is_refused(kind):
    with pytest.raises(ValueError) as err:
        TrainingConfig.from_dict({"data": {"train": ["x"], "degradation": kind, "sharpen_target": True}})
    assert str(err.value) == (
        "data.sharpen_target is for super-resolution (degradation bicubic, real, real-esrgan or paired): a "
        f"'{kind}' model would learn to sharpen clean images too; drop it (--data.sharpen_target false)"
    )
    paired = {"train": ["x"], "train_lr": ["y"], "degradation": "paired", "sharpen_target": True}
    assert TrainingConfig.from_dict({"data": paired}).data.sharpen_target is True


def test_a_run_recorded_before_the_option_is_not_resumed_with_it_switched_on(photos, tmp_path):
    """A checkpoint of an earlier swinir-hf records no data.sharpen_target: it read as the resuming config's value,
    so a resume with `--data.sharpen_target true` went on, unchanged by the record, and sharpened the targets from
    then on; an earlier swinir-hf never sharpened: now the record reads false and the change is refused."""
    data = {"train": [str(photos)], "degradation": "real-esrgan", "patch_size": 8}
    now = TrainingConfig.from_dict({"data": {**data, "sharpen_target": True}})
    earlier = {name: value for name, value in sample_settings(now).items() if name != "data.sharpen_target"}
    assert setting_change(earlier, sample_settings(now), "data.sharpen_target") == "data.sharpen_target: False → True"
    record = checkpoint_record(tmp_path / "step-00000002", {"config": {"data": data}}, now)  # its config, no samples
    assert record.config.data.sharpen_target is False
    said = setting_change(sample_settings(record.config), sample_settings(now), "data.sharpen_target")
    assert said == "data.sharpen_target: False → True"
    assert setting_change(sample_settings(now), sample_settings(now), "data.sharpen_target") is None


def test_a_gan_runs_discriminator_sees_the_unsharpened_targets_as_real(photos, tiny_config):
    """As Real-ESRGAN's recipe (l1 / percep_gt_usm true, gan_gt_usm false): the pixel and perceptual terms aim at the
    sharpened targets, the discriminator learns real images from the unsharpened ones. It learnt sharpened ones as
    real: the adversarial term pushed the outputs toward the unsharp mask's halos."""
    cfg = TrainingConfig.from_dict(
        {
            "data": {"train": [str(photos)], "degradation": "bicubic", "patch_size": 8, "sharpen_target": True},
            "gan": {
                "enabled": True,
                "allow_random_vgg": True,
                "perceptual_layers": {"conv1_2": 1.0},
                "discriminator_channels": 4,
            },
        }
    )
    data = build_dataset(cfg, types.SimpleNamespace(num_channels=3, upscale=2, window_size=4))
    args = dict(patch_size=8, degradation=Degradation("bicubic", 2), channels=3, seed=cfg.train.seed)
    plain = TrainingPatches(load_images(str(photos)), **args)[0]
    item = data[0]
    assert torch.equal(item["plain_labels"], plain["labels"]) and not torch.equal(item["labels"], plain["labels"])
    assert "plain_labels" not in TrainingPatches(load_images(str(photos)), **args, keep_plain_target=True)[0]
    # The discriminator's update: its input is [real; fake], real the unsharpened targets.
    gan = build_gan(cfg.gan, 3, (0.9, 0.999))
    seen = []
    gan.disc.register_forward_hook(lambda module, inputs, out: seen.append(inputs[0].detach()))
    accelerator = types.SimpleNamespace(
        unwrap_model=lambda m, keep_torch_compile=False: m, backward=lambda loss: loss.backward()
    )
    x, y, real = item["pixel_values"][None], item["labels"][None], item["plain_labels"][None]
    model = SwinIRForImageRestoration(tiny_config())
    gan_step(accelerator, model, gan, cfg.gan, x, y, 1, True, real)
    assert torch.equal(seen[-1][:1], real)
    gan_step(accelerator, model, gan, cfg.gan, x, y, 1, True)  # no unsharpened targets: y is the real image
    assert torch.equal(seen[-1][:1], y)
