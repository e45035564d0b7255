"""A GAN run's discriminator started from an earlier GAN run's (`gan.init_discriminator_from`, BasicSR's
`pretrain_network_d`): loaded whole or refused in one line, recorded as the run's start, refused without a GAN."""

from __future__ import annotations

import json

import pytest
import torch
from huggingface_hub import ModelCard
from safetensors.torch import load_file, save_file

from swinir_hf.training.config import TrainingConfig
from swinir_hf.training.discriminator_start import load_discriminator
from swinir_hf.training.gan import UNetDiscriminator
from swinir_hf.training.recipe import CheckpointRecord, recipe_changes, resumed_start, start
from swinir_hf.training.resume_checks import check_recipe_resumable, check_start_resumable

DATA = {"train": ["photos"]}
GAN = {"enabled": True, "allow_random_vgg": True, "perceptual_layers": {"conv1_2": 1.0}, "discriminator_channels": 4}


def gan_checkpoint(run, step: int, disc: UNetDiscriminator | None = None):
    """A checkpoint folder of the run folder `run` at `step`, holding `disc` as accelerate saves it (none: a run
    without GAN)."""
    checkpoint = run / "checkpoints" / f"step-{step:08d}"
    checkpoint.mkdir(parents=True)
    (checkpoint / "progress.json").write_text(json.dumps({"step": step}))
    if disc is not None:
        save_file(disc.state_dict(), checkpoint / "model_1.safetensors")
    return checkpoint


def trained(channels: int = 3, width: int = 4, seed: int = 0) -> UNetDiscriminator:
    """A discriminator whose weights are none of a fresh one's."""
    torch.manual_seed(seed)
    disc = UNetDiscriminator(channels, width)
    with torch.no_grad():
        for p in disc.parameters():
            p.add_(torch.randn_like(p))
    disc(torch.rand(1, channels, 16, 16))  # a spectral-norm power iteration: its u, v vectors move too
    return disc


def test_the_newest_checkpoint_of_a_run_or_the_one_named_is_loaded_whole(tmp_path):
    run = tmp_path / "gan"
    first, newest = trained(seed=1), trained(seed=2)
    old, new = gan_checkpoint(run, 1, first), gan_checkpoint(run, 2, newest)
    for source, disc, checkpoint in ((run, newest, new), (old, first, old)):
        ours = UNetDiscriminator(3, 4)
        assert load_discriminator(ours, str(source)) == checkpoint
        theirs = disc.state_dict()
        assert ours.state_dict().keys() == theirs.keys()
        assert all(torch.equal(v, theirs[k]) for k, v in ours.state_dict().items())
        x = torch.rand(1, 3, 16, 16)
        assert torch.equal(ours.eval()(x), disc.eval()(x))  # the same function, spectral norm included


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda run: gan_checkpoint(run, 1, trained(width=8)),
            "{ckpt}: its discriminator has 8 channels (gan.discriminator_channels), this run's 4: pass "
            "--gan.discriminator_channels 8",
        ),
        (
            lambda run: gan_checkpoint(run, 1, trained(channels=1)),
            "{ckpt}: its discriminator takes 1-channel images, this run's model makes 3-channel ones: start from a GAN "
            "run of 3-channel images, or drop gan.init_discriminator_from",
        ),
        (
            lambda run: gan_checkpoint(run, 1),
            "{ckpt} holds no discriminator (its run trained without a GAN, gan.enabled false): pass a GAN run's folder "
            "or one of its checkpoints (RUN/checkpoints/step-N), or drop gan.init_discriminator_from to start the "
            "discriminator untrained",
        ),
        (
            lambda run: save_file(
                {k: v for k, v in trained().state_dict().items() if not k.startswith("refine.")} | {"x": torch.ones(1)},
                gan_checkpoint(run, 1) / "model_1.safetensors",
            ),
            "{ckpt}: not a discriminator of this swinir-hf's U-Net (missing: refine.0.bias, "
            "refine.0.parametrizations.weight.0._u, refine.0.parametrizations.weight.0._v; unexpected: x): pass a GAN "
            "run's folder or one of its checkpoints (RUN/checkpoints/step-N)",
        ),
        (
            lambda run: (gan_checkpoint(run, 1, trained()) / "model").mkdir(),
            "{ckpt}/model is a checkpoint's model (the generator): pass its checkpoint folder, {ckpt}",
        ),
        (
            lambda run: (run / "checkpoints").mkdir(parents=True),
            "{run} is a run folder without checkpoints: pass a GAN run's folder or one of its checkpoints "
            "(RUN/checkpoints/step-N)",
        ),
        (lambda run: run.mkdir(), "{run} is neither a run folder nor a checkpoint: pass a GAN run's folder or one"),
        (lambda run: None, "{run} does not exist: pass a GAN run's folder or one of its checkpoints"),
    ],
)
def test_a_discriminator_that_does_not_fit_is_refused_and_nothing_loaded(make, message, tmp_path):
    """Strict: a discriminator half loaded (the tensors that fit) would train from a mixture of two."""
    run, ours = tmp_path / "gan", UNetDiscriminator(3, 4)
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    make(run)
    ckpt = run / "checkpoints" / "step-00000001"
    source = ckpt / "model" if "(the generator)" in message else ckpt if (ckpt / "progress.json").exists() else run
    with pytest.raises(ValueError) as err:
        load_discriminator(ours, str(source))
    said = str(err.value)
    assert said.startswith(f"gan.init_discriminator_from {message.format(ckpt=ckpt, run=run)}") and "\n" not in said
    assert all(torch.equal(v, before[k]) for k, v in ours.state_dict().items())


def test_an_unreadable_discriminator_file_is_refused_as_an_authors_file_is(tmp_path, zip_bomb, monkeypatch):
    """The discriminator's file is read as `load_state_dict_file` reads an authors' one: a truncated file is one
    line, and a decompression bomb is refused before torch.load unpacks it."""
    ckpt = gan_checkpoint(tmp_path / "cut", 1, trained())
    data = (ckpt / "model_1.safetensors").read_bytes()
    (ckpt / "model_1.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"^gan\.init_discriminator_from: .* is not a readable safetensors file"):
        load_discriminator(UNetDiscriminator(3, 4), str(ckpt))
    bomb = gan_checkpoint(tmp_path / "bomb", 1)
    zip_bomb(trained().state_dict(), bomb / "pytorch_model_1.bin")
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: pytest.fail("unpacked"))
    with pytest.raises(ValueError) as err:
        load_discriminator(UNetDiscriminator(3, 4), str(bomb))
    assert "a decompression bomb, not loaded: pass a GAN run's folder" in str(err.value)


def test_it_is_refused_without_a_gan_or_empty():
    with pytest.raises(ValueError, match="^gan.init_discriminator_from starts a GAN run's discriminator, and gan.ena"):
        TrainingConfig.from_dict({"data": DATA, "gan": {"init_discriminator_from": "runs/gan"}})
    with pytest.raises(ValueError) as err:  # an unset shell variable, as model.init_from's
        TrainingConfig.from_dict({"data": DATA, "gan": {**GAN, "init_discriminator_from": ""}})
    assert str(err.value) == (
        "gan.init_discriminator_from is empty (an unset shell variable?): name the starting weights, or null to start "
        "it untrained"
    )
    assert TrainingConfig.from_dict(
        {"data": DATA, "gan": {**GAN, "init_discriminator_from": "r"}}
    ).gan.init_discriminator_from


def test_the_start_is_recorded_and_a_resume_goes_on_from_it(tmp_path):
    """As `model.init_from`: the start record keeps it, a resume that does not name it goes on from the run's, one
    that names another is refused, and it is no recipe change for `recipe_changes` (the record compares it)."""
    run = tmp_path / "gan"
    checkpoint = gan_checkpoint(run, 2, trained())
    cfg = TrainingConfig.from_dict({"data": DATA, "gan": {**GAN, "init_discriminator_from": str(run)}})
    started = start(cfg, None, checkpoint)
    assert started["discriminator"] == {"init_from": str(run), "located": str(run), "checkpoint": str(checkpoint)}
    assert "discriminator" not in start(TrainingConfig.from_dict({"data": DATA, "gan": GAN}))
    plain = TrainingConfig.from_dict({"data": DATA, "gan": GAN})
    record = CheckpointRecord(tmp_path / "ckpt", {"step": 2}, cfg.to_dict(), cfg, started)
    resumed, kept = resumed_start(record, plain)
    assert resumed.gan.init_discriminator_from == str(run) and kept is started
    check_start_resumable(record, plain)  # naming none
    check_start_resumable(record, cfg)  # naming the same
    (tmp_path / "other").mkdir()
    other = TrainingConfig.from_dict({"data": DATA, "gan": {**GAN, "init_discriminator_from": str(tmp_path / "other")}})
    with pytest.raises(ValueError, match=r"the run started its discriminator from gan.init_discriminator_from .*gan, "):
        check_start_resumable(record, other)
    untrained = CheckpointRecord(tmp_path / "ckpt", {"step": 2}, plain.to_dict(), plain, start(plain))
    with pytest.raises(ValueError, match=r"gan.init_discriminator_from none \(untrained\), this config from .*gan\."):
        check_start_resumable(untrained, cfg)
    assert recipe_changes(plain, cfg) == []


def test_a_gan_runs_resume_refusal_offers_its_discriminator_too(tmp_path):
    """A changed GAN weight is the run's recipe: the way out, a new run from its model, keeps its discriminator."""
    cfg = TrainingConfig.from_dict({"data": DATA, "gan": GAN})
    changed = TrainingConfig.from_dict({"data": DATA, "gan": {**GAN, "gan_weight": 0.2}})
    ckpt = tmp_path / "ckpt"
    record = CheckpointRecord(ckpt, {"step": 2}, cfg.to_dict(), cfg, start(cfg))
    with pytest.raises(ValueError) as err:
        check_recipe_resumable(record, changed, None)
    assert str(err.value).endswith(
        f"or start from its model and discriminator with --init-from {ckpt}/model --init-discriminator-from {ckpt} "
        "and a new train.output_dir"
    )
    assert "(changed: gan.gan_weight: 0.1 → 0.2)" in str(err.value)


def test_a_gan_run_starts_its_discriminator_from_an_earlier_runs_and_says_so(tiny_run, train_cli, images, tmp_path):
    """End to end: loaded before the first step (at discriminator_lr 0 it stays as loaded, into the checkpoint),
    recorded in progress.json, training_config.yaml and the card; the short option sets it."""
    source = gan_checkpoint(tmp_path / "earlier", 3, trained())
    out = tmp_path / "gan"
    gan = {**GAN, "discriminator_lr": 0.0}
    raw = {**tiny_run(images, out, data={"val": None}, train={"max_steps": 1}), "gan": gan}
    assert train_cli(raw, "--init-discriminator-from", str(tmp_path / "earlier")) == 0
    saved = load_file(out / "checkpoints/step-00000001/model_1.safetensors")
    theirs = load_file(source / "model_1.safetensors")
    weights = [k for k in theirs if not k.endswith(("._u", "._v"))]  # the power iteration moves u, v each step
    assert all(torch.equal(saved[k], theirs[k]) for k in weights)
    progress = json.loads((out / "checkpoints/step-00000001/progress.json").read_text())
    assert progress["start"]["discriminator"]["checkpoint"] == str(source)
    line = f"- discriminator initialised from `…/{tmp_path.name}/earlier` (step-00000003) (gan.init_discriminator_from)"
    assert line in ModelCard.load(out / "README.md").text
    assert "init_discriminator_from: " + str(tmp_path / "earlier") in (out / "training_config.yaml").read_text()
