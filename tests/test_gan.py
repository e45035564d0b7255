"""GAN parts: U-Net discriminator, hand-built VGG-19 loading a torchvision-layout state dict, losses, GAN training."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
import yaml
from conftest import TINY_MODEL
from huggingface_hub import ModelCard
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn.utils.parametrize import is_parametrized

from swinir_hf import SwinIRConfig, SwinIRForImageRestoration
from swinir_hf.checkpoints.convert import CheckpointError
from swinir_hf.training.cli import main
from swinir_hf.training.gan import (
    VGG19_LAYERS,
    PerceptualLoss,
    UNetDiscriminator,
    VGG19Features,
    build_gan,
    gan_loss,
)
from swinir_hf.training.resume_checks import check_gan_resumable
from swinir_hf.training.sections import GanArgs, TrainArgs


def test_discriminator_gives_a_logit_per_pixel_with_spectral_norm():
    disc = UNetDiscriminator(3, base_channels=8)
    assert disc(torch.rand(2, 3, 36, 44)).shape == (2, 1, 36, 44)
    normalised = [m for m in disc.modules() if hasattr(m, "parametrizations")]
    assert len(normalised) == 8  # 3 down, 3 up, 2 refine
    assert UNetDiscriminator(1, 8)(torch.rand(1, 1, 32, 32)).shape == (1, 1, 32, 32)


def test_the_discriminator_starts_as_the_authors_orthogonal_with_gain_0_2_and_keeps_its_weight_names():
    """KAIR's real-world GAN option initialises netD orthogonally with gain 0.2 (`init_type`, `init_gain`) and zeroes
    the biases (`init_weights`): every conv's weight as an (out, in·k·k) matrix has orthonormal rows (or columns)
    × 0.2, spectrally normalised or not. The state dict keeps the names of the checkpoints saved before, which resume
    (the biases of the normalised convs, which KAIR's lack, included)."""
    disc = UNetDiscriminator(3, base_channels=8)
    convs = [m for m in disc.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 10
    for conv in convs:
        weight = conv.parametrizations.weight.original if is_parametrized(conv) else conv.weight
        matrix = weight.detach().flatten(1)
        gram = matrix @ matrix.T if len(matrix) <= matrix.shape[1] else matrix.T @ matrix
        assert torch.allclose(gram, 0.04 * torch.eye(len(gram)), atol=1e-6)
        assert not conv.bias.any()
    normalised = [f"{part}.{i}" for part, n in (("down", 3), ("up", 3)) for i in range(n)] + ["refine.0", "refine.2"]
    names = ("bias", "parametrizations.weight.original", "parametrizations.weight.0._u", "parametrizations.weight.0._v")
    keys = {f"{conv}.{name}" for conv in normalised for name in names}
    assert set(disc.state_dict()) == keys | {"conv_in.weight", "conv_in.bias", "conv_out.weight", "conv_out.bias"}


def test_the_discriminator_adam_has_the_generators_betas_as_the_authors():
    # KAIR's GAN stage builds both optimizers as Adam(lr, weight_decay=0): Adam's default betas (0.9, 0.999), which
    # are train.adam_betas' default; the discriminator had Real-ESRGAN's (0.9, 0.99).
    args = GanArgs(enabled=True, allow_random_vgg=True, discriminator_channels=8)
    assert build_gan(args, 3, TrainArgs().adam_betas).optimizer.param_groups[0]["betas"] == (0.9, 0.999)
    assert build_gan(args, 3, [0.5, 0.9]).optimizer.param_groups[0]["betas"] == (0.5, 0.9)


def test_vgg_layer_indices_are_the_named_convs():
    vgg = VGG19Features()
    widths = {"conv1_2": 64, "conv2_2": 128, "conv3_4": 256, "conv4_4": 512, "conv5_4": 512}
    for name, index in VGG19_LAYERS.items():
        assert isinstance(vgg.features[index], nn.Conv2d) and vgg.features[index].out_channels == widths[name]
    assert sum(isinstance(m, nn.Conv2d) for m in vgg.features) == 16
    outputs = vgg(torch.rand(1, 3, 32, 32))
    assert [o.shape[1:] for o in outputs] == [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4), (512, 2, 2)]


def test_vgg_loads_a_torchvision_layout_state_dict(tmp_path):
    source = VGG19Features()
    state = {f"features.{k}": torch.randn_like(v) for k, v in source.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)  # ignored
    torch.save(state, tmp_path / "vgg19.pth")
    vgg = VGG19Features(["conv2_2"], weights=tmp_path / "vgg19.pth")
    assert len(vgg.features) == 8  # only up to conv2_2 is built
    assert torch.equal(vgg.features[7].weight, state["features.7.weight"])
    assert not any(p.requires_grad for p in vgg.parameters())
    del state["features.5.bias"]
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(CheckpointError, match="features.5.bias"):
        VGG19Features(weights=tmp_path / "broken.pth")
    with pytest.raises(ValueError, match="conv9_9"):
        VGG19Features(["conv9_9"])


def test_vgg_weights_a_local_folder_or_a_missing_path(tmp_path, monkeypatch):
    """A folder holding model.safetensors (a Hub repo downloaded with --local-dir) loads; a missing local path says
    so rather than being looked up on the Hub as a malformed repo id."""
    monkeypatch.chdir(tmp_path)
    state = {f"features.{k}": torch.randn_like(v) for k, v in VGG19Features(["conv1_2"]).features.state_dict().items()}
    (tmp_path / "vgg19").mkdir()
    save_file(state, tmp_path / "vgg19" / "model.safetensors")
    vgg = VGG19Features(["conv1_2"], weights="vgg19")
    assert torch.equal(vgg.features[2].weight, state["features.2.weight"])
    for missing in (tmp_path / "nowhere" / "vgg19.pth", "vgg19-dcbb9e9d.pth", "./vgg"):
        with pytest.raises(CheckpointError, match=f"^{re.escape(str(missing))} does not exist$"):
            VGG19Features(weights=missing)
    with pytest.raises(CheckpointError, match="is a folder without model.safetensors"):
        VGG19Features(weights=tmp_path)


def test_perceptual_and_gan_losses():
    loss = PerceptualLoss()
    target = torch.rand(2, 3, 32, 32)
    assert loss(target, target).item() == 0.0
    output = (target + 0.1 * torch.randn_like(target)).requires_grad_()
    value = loss(output, target)
    value.backward()
    assert value.item() > 0 and output.grad.abs().sum() > 0
    assert loss.weights == [0.1, 0.1, 1.0, 1.0, 1.0]
    logits = torch.tensor([[3.0, -3.0]])
    assert gan_loss(logits, True).item() == pytest.approx(
        -(np.log(1 / (1 + np.exp(-3.0))) + np.log(1 / (1 + np.exp(3.0)))) / 2, rel=1e-5
    )


@pytest.mark.slow
def test_gan_training_runs_end_to_end(tmp_path, monkeypatch):
    from accelerate import Accelerator

    logged = []  # what trackers get (report_to none here)
    monkeypatch.setattr(Accelerator, "log", lambda self, values, step=None, **kw: logged.append(values))
    rng = np.random.default_rng(0)
    (tmp_path / "img").mkdir()
    for i in range(4):
        small = (rng.random((8, 8, 3)) * 255).astype(np.uint8)
        Image.fromarray(small).resize((64, 64), Image.BICUBIC).save(tmp_path / "img" / f"{i}.png")
    out = tmp_path / "gan"
    raw = {
        "model": {
            "preset": "real_sr",
            "scale": 2,
            "config": {
                "embed_dim": 16,
                "depths": [2],
                "num_heads": [2],
                "window_size": 4,
                "image_size": 8,
                "num_feat": 8,
            },
        },
        "data": {"train": [str(tmp_path / "img")], "patch_size": 8, "degradation": "real", "num_workers": 0},
        "train": {
            "output_dir": str(out),
            "max_steps": 2,
            "batch_size": 2,
            "lr_milestones": [1],
            "ema_decay": 0.0,
            "checkpoint_every": 2,
            "validate_every": 0,
            "log_every": 1,
            "report_to": "none",
        },
        "gan": {"enabled": True, "allow_random_vgg": True, "discriminator_channels": 8},
    }
    config = tmp_path / "gan.yaml"
    config.write_text(yaml.safe_dump(raw))
    assert main(["--config", str(config)]) == 0
    model = SwinIRForImageRestoration.from_pretrained(out)
    assert model.config.upsampler == "nearest+conv"
    losses = json.loads((out / "training_summary.json").read_text())["losses"]
    assert len(losses) == 2 and all(np.isfinite(e["loss"]) for e in losses)
    # each term logged, as BasicSR names them: the total is their weighted sum (pixel 1, perceptual 1, GAN 0.1)
    terms = [{k.removeprefix("train/"): v for k, v in values.items() if k.startswith("train/l_")} for values in logged]
    assert [sorted(t) for t in terms] == [["l_d_fake", "l_d_real", "l_g_gan", "l_percep", "l_pix"]] * 2
    for values, t in zip(logged, terms, strict=True):
        total = t["l_pix"] + t["l_percep"] + 0.1 * t["l_g_gan"]
        assert values["train/loss"] == pytest.approx(total, rel=1e-5) and 0.3 < t["l_d_real"] < 1.5
    card = ModelCard.load(out / "README.md")  # says what the run was: a GAN, with a random VGG
    assert "VGG weights: random (gan.allow_random_vgg, for tests: no perceptual loss to speak of)" in card.text
    assert card.data.tags[-2:] == ["swinir-hf-trained", "gan"]
    # ... what it is for (it scored as a PSNR model), and its losses and discriminator (they were not all named)
    assert (
        "- GAN-trained: tuned for perceptual quality, not PSNR (sharper textures, a lower PSNR than a PSNR-oriented "
        "L1 model); loss pixel L1 × 1.0 + VGG-19 perceptual × 1.0 ({'conv1_2': 0.1, 'conv2_2': 0.1, 'conv3_4': 1.0, "
        "'conv4_4': 1.0, 'conv5_4': 1.0}) + GAN × 0.1; U-Net discriminator with spectral norm (8 channels, Adam lr "
        "0.0001); VGG weights: random"
    ) in card.text
    # the discriminator is trained and checkpointed with the generator
    disc_state = load_file(out / "checkpoints/step-00000002/model_1.safetensors")
    fresh = UNetDiscriminator(3, 8).state_dict()
    assert disc_state.keys() == fresh.keys()
    # ... and its learning rate follows the generator's milestones (halved at step 1), as the authors'
    disc_optimizer = torch.load(out / "checkpoints/step-00000002/optimizer_1.bin", weights_only=True)
    assert disc_optimizer["param_groups"][0]["lr"] == pytest.approx(0.5e-4)
    raw["gan"]["allow_random_vgg"] = False
    raw["train"]["output_dir"] = str(tmp_path / "novgg")
    config.write_text(yaml.safe_dump(raw))
    assert main(["--config", str(config)]) == 2  # refused before any work


def test_resuming_across_the_gan_stage_or_another_discriminator_names_the_change(tmp_path):
    """accelerate's own load would fail on the missing / mis-shaped discriminator file, read as a damaged one."""
    stage1, stage2 = tmp_path / "stage1", tmp_path / "stage2"
    stage1.mkdir()
    stage2.mkdir()
    save_file(UNetDiscriminator(3, 16).state_dict(), stage2 / "model_1.safetensors")
    check_gan_resumable(stage1, GanArgs())
    check_gan_resumable(stage2, GanArgs(enabled=True, discriminator_channels=16))
    with pytest.raises(ValueError, match=r"saved without a discriminator \(gan.enabled: false\).*--init-from"):
        check_gan_resumable(stage1, GanArgs(enabled=True))
    with pytest.raises(ValueError, match=r"saved by a GAN run \(gan.enabled: true\)"):
        check_gan_resumable(stage2, GanArgs())
    with pytest.raises(ValueError, match="changed: gan.discriminator_channels: 16 → 8"):
        check_gan_resumable(stage2, GanArgs(enabled=True, discriminator_channels=8))


def test_a_gan_run_from_a_model_of_another_scale_is_refused_before_the_vgg_and_the_data(
    tiny_run, train_cli, images, tmp_path, monkeypatch, capsys
):
    """A x2 PSNR-stage model started a x4 GAN run with its second upsampling conv drawn afresh (a log line said
    so), trained from scratch by the adversarial loss; the same model of the run's scale starts it."""
    import swinir_hf.training.loop

    model = {"preset": "real_sr", "scale": 4, "config": {**TINY_MODEL, "image_size": 8}}
    SwinIRForImageRestoration(SwinIRConfig.from_preset("real_sr", 2, **model["config"])).save_pretrained(
        tmp_path / "x2"
    )
    for reader in ("build_gan", "build_dataset"):  # the VGG may be downloaded, a large set read for minutes
        fail = lambda *a, r=reader: pytest.fail(f"{r} before the check")  # noqa: E731
        monkeypatch.setattr(swinir_hf.training.loop, reader, fail)
    gan = {"enabled": True, "allow_random_vgg": True}
    raw = {**tiny_run(images, tmp_path / "gan", model={**model, "init_from": str(tmp_path / "x2")}), "gan": gan}
    raw["data"].update(degradation="real", val=None)
    assert train_cli(raw) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: model.init_from {tmp_path / 'x2'}: a GAN run starts from a trained model of its architecture (the "
        "PSNR stage's), but 2 of this model's tensors are not in it (conv_up2.bias, conv_up2.weight; upscale 2 → 4) "
        "and would start from scratch: train a PSNR stage from it first (--gan.enabled false), then start the GAN "
        "stage from that run (--init-from RUN)"
    )
    # a x4 one loads whole: the check lets it through (to the VGG, here)
    SwinIRForImageRestoration(SwinIRConfig.from_preset("real_sr", 4, **model["config"])).save_pretrained(
        tmp_path / "x4"
    )
    raw["model"]["init_from"] = str(tmp_path / "x4")
    with pytest.raises(pytest.fail.Exception, match="build_gan before the check"):
        train_cli(raw)


def test_a_missing_vgg_is_refused_before_any_data_is_read(tiny_run, train_cli, images, tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    import swinir_hf.training.loop

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    for reader in ("build_dataset", "build_validation"):  # minutes on a large set
        monkeypatch.setattr(swinir_hf.training.loop, reader, lambda *a, r=reader: pytest.fail(f"{r} before the VGG"))
    gan = {"enabled": True, "vgg_weights": "timm/vgg19.tv_in1k"}
    assert train_cli({**tiny_run(images, tmp_path / "gan"), "gan": gan}) == 1
    err = capsys.readouterr().err
    assert "gan.vgg_weights 'timm/vgg19.tv_in1k'" in err and "not in the local Hugging Face cache" in err
    # what it offers instead of the repo id includes a folder, which loads (test_vgg_weights_a_local_folder_...)
    assert err.rstrip().endswith(
        "; or pass a local state dict file, or a folder holding model.safetensors (`hf download timm/vgg19.tv_in1k "
        "--local-dir vgg19`, then gan.vgg_weights=vgg19), instead of a repo id."
    )


@pytest.mark.parametrize(
    ("gan", "message"),
    [
        ({"perceptual_layers": {}}, "gan.perceptual_layers {}: give VGG-19 layers among ['conv1_2', 'conv2_2', "),
        ({"perceptual_layers": {"conv9_9": 1.0}}, "gan.perceptual_layers {'conv9_9': 1.0}: give VGG-19 layers"),
        ({"perceptual_layers": {"conv5_4": -1.0}}, "gan.perceptual_layers.conv5_4 must be >= 0, got -1.0"),
        ({"gan_weight": -1.0}, "gan.gan_weight must be >= 0, got -1.0"),
        ({"discriminator_channels": 0}, "gan.discriminator_channels must be >= 1, got 0"),
    ],
)
def test_gan_fields_it_cannot_train_with_are_refused_up_front(
    gan, message, tiny_run, train_cli, images, tmp_path, capsys
):
    """An empty perceptual_layers trained the default five layers while the run recorded {}; no discriminator
    channels failed in the first step; a negative weight trained away from its target; an unknown layer was blamed
    on gan.vgg_weights once the model was built."""
    gan = {"enabled": True, "allow_random_vgg": True, **gan}
    assert train_cli({**tiny_run(images, tmp_path / "gan"), "gan": gan}) == 2
    assert capsys.readouterr().err.startswith(f"error: {message}")
    assert not (tmp_path / "gan").exists()
