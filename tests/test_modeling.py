"""Config validation, presets, any-size forward, losses, training and gradient checkpointing."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from safetensors import safe_open

from swinir_hf import SwinIRConfig, SwinIRForImageRestoration, SwinIRImageProcessor
from swinir_hf.models.presets_swinir import UPSAMPLER_SCALES, UPSAMPLERS


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"embed_dim": 30, "num_heads": [4]}, "embed_dim 30 is not divisible by num_heads 4"),
        (
            {"upsampler": "pixelshuffle", "upscale": 5},
            "upscale must be 3 or a power of 2 (2, 4, 8, 16, ...) for upsampler 'pixelshuffle', got 5",
        ),
        ({"upsampler": "nearest+conv", "upscale": 3}, "upscale must be 2 or 4 for upsampler 'nearest+conv', got 3"),
        ({"upsampler": "pixelshuffledirect", "upscale": 1}, "upscale must be any integer >= 2 for upsampler"),
        ({"upsampler": None, "upscale": 2}, "upscale must be 1 for upsampler None, got 2"),
        ({"upsampler": "bilinear"}, "upsampler must be one of"),
        ({"depths": [2, 2], "num_heads": [2]}, "same length"),
        ({"resi_connection": "2conv"}, "resi_connection must be one of"),
        ({"image_size": 18}, "must be a multiple of window_size 4"),
        ({"num_channels": 3, "rgb_mean": [0.5]}, "rgb_mean has 1 values but num_channels is 3"),
        ({"loss": "mse"}, "loss must be one of"),
        ({"patch_size": 2}, "patch_size must be 1"),
        ({"drop_path_rate": 1.0}, "drop_path_rate must be in [0, 1)"),
        # values the model would fail on deep inside torch (or build silently wrong)
        ({"embed_dim": 0}, "embed_dim must be >= 1, got 0"),
        ({"mlp_ratio": -1.0}, "mlp_ratio must be positive, got -1.0"),
        ({"layer_norm_eps": -1e-5}, "layer_norm_eps must be >= 0, got -1e-05"),
        ({"upsampler": "pixelshuffle", "upscale": 2, "num_feat": 0}, "num_feat must be >= 1, got 0"),
        ({"charbonnier_eps": 0.0}, "charbonnier_eps must be positive, got 0.0"),
        # NaN passed the range checks (`img_range <= 0` is False), and every output was NaN: black images, exit 0
        ({"img_range": float("nan")}, "img_range must be a finite number, got nan"),
        ({"img_range": float("inf")}, "img_range must be a finite number, got inf"),
        ({"rgb_mean": [0.4, float("nan"), 0.4]}, "rgb_mean must be a finite number, got [0.4, nan, 0.4]"),
        ({"layer_norm_eps": float("nan")}, "layer_norm_eps must be a finite number, got nan"),
        ({"qk_scale": float("nan")}, "qk_scale must be a finite number, got nan"),
        ({"mlp_ratio": float("nan")}, "mlp_ratio must be a finite number, got nan"),
        ({"charbonnier_eps": float("nan")}, "charbonnier_eps must be a finite number, got nan"),
        ({"qk_scale": 0}, "qk_scale must be positive (or None: head_dim ** -0.5), got 0.0"),
        # transformers looks a dtype's name up in torch: "bogus" was an AttributeError from inside torch, and "int8"
        # loaded through load_model but not through the Auto classes
        (
            {"dtype": "bogus"},
            "dtype must name a floating-point dtype (float32, float16, bfloat16, float64, float, half, double), "
            "got 'bogus'",
        ),
        (
            {"torch_dtype": "int8"},
            "torch_dtype must name a floating-point dtype (float32, float16, bfloat16, float64, float, half, double)",
        ),
    ],
)
def test_invalid_config_says_what_is_wrong(tiny_config, fields, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        tiny_config(**fields)


def test_fields_given_to_from_pretrained_are_checked(tiny_config, tmp_path):
    """transformers sets the fields passed to `from_pretrained` after building the config, past its checks: a
    `upscale=5` for a pixelshuffle head loaded, to fail only when saved or built."""
    from transformers import AutoConfig

    tiny_config(upsampler="pixelshuffle", upscale=2).save_pretrained(tmp_path)
    for load in (SwinIRConfig.from_pretrained, AutoConfig.from_pretrained):
        with pytest.raises(ValueError, match=re.escape("upscale must be 3 or a power of 2 (2, 4, 8, 16, ...)")):
            load(tmp_path, upscale=5)
        assert load(tmp_path, upscale=4).upscale == 4


@pytest.mark.parametrize(
    ("preset", "scale", "release"),
    [
        ("classical_sr", 4, "001_classicalSR_DIV2K_s48w8_SwinIR-M_x4.pth"),
        ("classical_sr", 3, "001_classicalSR_DIV2K_s48w8_SwinIR-M_x3.pth"),
        ("lightweight_sr", 2, "002_lightweightSR_DIV2K_s64w8_SwinIR-S_x2.pth"),
        ("real_sr", 4, "003_realSR_BSRGAN_DFO_s64w8_SwinIR-M_x4_GAN.pth"),
        ("real_sr_large", None, "003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth"),
        ("gray_dn", None, "004_grayDN_DFWB_s128w8_SwinIR-M_noise15.pth"),
        ("color_dn", None, "005_colorDN_DFWB_s128w8_SwinIR-M_noise25.pth"),
        ("jpeg_car", None, "006_CAR_DFWB_s126w7_SwinIR-M_jpeg10.pth"),
        ("color_jpeg_car", None, "006_colorCAR_DFWB_s126w7_SwinIR-M_jpeg10.pth"),
    ],
)
def test_presets_match_the_released_architectures(preset, scale, release, shared):
    entry = json.loads((shared / "fixtures/release_layouts.json").read_text())[release]
    config = SwinIRConfig.from_preset(preset, scale=scale)
    with torch.device("meta"):
        model = SwinIRForImageRestoration(config)
    assert model.num_parameters() == entry["num_parameters"]
    params = {k: v["shape"] if isinstance(v, dict) else v[0] for k, v in entry["tensors"].items()}
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert ours == {k: v for k, v in params.items() if not k.endswith(("attn_mask", "relative_position_index"))}
    kwargs = entry["reference_kwargs"]
    assert (config.img_range, config.window_size, config.image_size) == (
        kwargs["img_range"],
        kwargs["window_size"],
        kwargs["img_size"],
    )


def test_preset_errors():
    message = "preset 'lightweight_sr' needs scale=: any integer >= 2 (the authors released 2, 3, 4)"
    with pytest.raises(ValueError, match=re.escape(message)):
        SwinIRConfig.from_preset("lightweight_sr")
    with pytest.raises(ValueError, match="unknown preset"):
        SwinIRConfig.from_preset("deblur")
    with pytest.raises(ValueError, match=re.escape("scale must be 1 for preset 'color_dn' (upsampler None), got 2")):
        SwinIRConfig.from_preset("color_dn", scale=2)
    message = "scale must be 2 or 4 for preset 'real_sr' (upsampler 'nearest+conv'), got 3"
    with pytest.raises(ValueError, match=re.escape(message)):
        SwinIRConfig.from_preset("real_sr", 3)
    assert SwinIRConfig.from_preset("lightweight_sr", scale=4).upsampler == "pixelshuffledirect"
    with pytest.raises(ValueError, match="embed_dimm is not a SwinIRConfig field"):
        SwinIRConfig.from_preset("classical_sr", 4, embed_dimm=60)
    with pytest.raises(ValueError, match="sets the scale with scale=, not upscale="):
        SwinIRConfig.from_preset("classical_sr", 4, upscale=2)
    assert SwinIRConfig.from_preset("classical_sr", 2, embed_dim=60, dtype="float32").embed_dim == 60
    for scale in ("2", 2.0, True):
        with pytest.raises(ValueError, match=re.escape(f"scale must be an integer, got {scale!r}")):
            SwinIRConfig.from_preset("classical_sr", scale)
    assert SwinIRConfig.from_preset("classical_sr", np.int64(2)).upscale == 2


@pytest.mark.parametrize("upsampler", UPSAMPLERS)
def test_the_scales_refused_are_exactly_those_the_head_cannot_build(tiny_config, upsampler, monkeypatch):
    built = {}
    for scale in range(2, 18):
        config = tiny_config(upsampler=upsampler, upscale=1 if upsampler is None else 2)
        config.upscale = scale  # the head built as asked, unchecked
        with monkeypatch.context() as m:
            m.setattr(SwinIRConfig, "validate_head", lambda self: None)
            model = SwinIRForImageRestoration(config).eval()
        with torch.no_grad():  # a multiple of the window: no padding, whose crop would hide a wrong size
            built[scale] = model(torch.rand(1, 3, 8, 4)).reconstruction.shape[-2:] == (8 * scale, 4 * scale)
    accepted = {}
    for scale in built:
        try:
            accepted[scale] = tiny_config(upsampler=upsampler, upscale=scale).upscale == scale
        except ValueError as err:
            assert str(err).startswith(f"upscale must be {UPSAMPLER_SCALES[upsampler]} for upsampler")
            accepted[scale] = False
    assert accepted == built


def test_an_upscale_without_a_head_names_the_heads_that_build_it():
    """`SwinIRConfig(upscale=4)` (Swin2SR's config upscales so) has the default head, None, which restores at the
    input size: the refusal names the upsamplers that build the scale, and a preset, not only "must be 1"."""
    from transformers import AutoConfig

    with pytest.raises(ValueError) as err:
        SwinIRConfig(upscale=4)
    assert str(err.value) == (
        "upscale must be 1 for upsampler None, got 4: upsampler None restores at the input size; to upscale x4, "
        'pass upsampler="pixelshuffle", "pixelshuffledirect" or "nearest+conv", or start from '
        'SwinIRConfig.from_preset("classical_sr", scale=4)'
    )
    with pytest.raises(ValueError) as err:
        AutoConfig.for_model("swinir", upscale=5)
    assert str(err.value).endswith(
        'to upscale x5, pass upsampler="pixelshuffledirect", or start from '
        'SwinIRConfig.from_preset("lightweight_sr", scale=5)'
    )
    with pytest.raises(ValueError, match=r"^upscale must be 1 for upsampler None, got 0$"):
        SwinIRConfig(upscale=0)  # no head builds it: nothing to suggest


def test_presets_take_every_scale_their_head_builds():
    # released at x2 / x3 / x4 and x4 only, but one PixelShuffle takes any factor and nearest+conv x2 too
    assert SwinIRConfig.from_preset("lightweight_sr", 5).upscale == 5
    assert SwinIRConfig.from_preset("real_sr_large", 2).upscale == 2
    assert SwinIRConfig.from_preset("real_sr_large").upscale == 4
    assert SwinIRConfig.from_preset("classical_sr", 16).upscale == 16


@pytest.mark.parametrize("upsampler,scale", [("pixelshuffle", 3), ("pixelshuffledirect", 2), ("nearest+conv", 4)])
@pytest.mark.parametrize("size", [(1, 1), (1, 6), (5, 2), (4, 4), (9, 13)])
def test_any_input_size_gives_exactly_scaled_output(tiny_config, upsampler, scale, size):
    model = SwinIRForImageRestoration(tiny_config(upsampler=upsampler, upscale=scale)).eval()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        y = model(x).reconstruction
    assert y.shape == (2, 3, size[0] * scale, size[1] * scale)
    assert torch.isfinite(y).all()


def test_absolute_embeddings_take_the_sizes_that_pad_to_image_size_and_refuse_others(tiny_config):
    """One embedding per pixel of an image_size² map: other sizes were a bare tensor-size RuntimeError."""
    model = SwinIRForImageRestoration(tiny_config(image_size=8, use_absolute_embeddings=True)).eval()
    with torch.no_grad():
        for size in [(8, 8), (5, 7)]:  # window 4: both pad to 8×8
            assert model(torch.rand(1, 3, *size)).reconstruction.shape == (1, 3, 2 * size[0], 2 * size[1])
        with pytest.raises(ValueError, match=r"pad to 12×8, but .* fit 8×8 only: pass inputs of 5 to 8 pixels"):
            model(torch.rand(1, 3, 9, 8))


def test_denoiser_has_global_residual_and_grey_channels(tiny_config):
    model = SwinIRForImageRestoration(tiny_config(upsampler=None, upscale=1, num_channels=1)).eval()
    for p in model.conv_last.parameters():
        torch.nn.init.zeros_(p)
    x = torch.rand(1, 1, 11, 7)
    with torch.no_grad():
        assert torch.allclose(model(x).reconstruction, x, atol=1e-6)


def test_bad_inputs_are_rejected_clearly(tiny_config):
    model = SwinIRForImageRestoration(tiny_config())
    with pytest.raises(ValueError, match=r"must be \(N, 3, H, W\), got \(1, 1, 8, 8\)"):
        model(torch.rand(1, 1, 8, 8))
    # An empty batch (or image) divided by zero deep in the window attention.
    for empty in ((0, 3, 8, 8), (1, 3, 0, 8)):
        with pytest.raises(ValueError, match=rf"^pixel_values holds no pixels: {re.escape(str(empty))} \(an empty"):
            model(torch.rand(*empty))
    with pytest.raises(ValueError, match=r"must be floats in \[0, 1\], got torch.uint8: divide 8-bit pixels by 255"):
        model(torch.randint(0, 256, (1, 3, 8, 8), dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"labels must be \(1, 3, 16, 16\)"):
        model(torch.rand(1, 3, 8, 8), labels=torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"^labels must be floats in \[0, 1\], as pixel_values, got torch.uint8"):
        model(torch.rand(1, 3, 8, 8), labels=torch.randint(0, 256, (1, 3, 16, 16), dtype=torch.uint8))
    with pytest.raises(TypeError, match=r"unsupported argument\(s\) label: it takes"):
        model(torch.rand(1, 3, 8, 8), label=torch.rand(1, 3, 16, 16))
    out = model(torch.rand(1, 3, 8, 8), output_hidden_states=False, output_attentions=None, use_cache=None)
    assert list(out.keys()) == ["reconstruction"]


def test_hidden_states_are_the_inputs_of_each_rstb_and_of_the_head(tiny_config):
    """`output_hidden_states` (per call or from the config) adds the embedding output and each RSTB's output as
    (N, embed_dim, H, W) maps at the window-padded size; the last is what the final norm and the head take."""
    model = SwinIRForImageRestoration(tiny_config(depths=[2, 2], num_heads=[2, 2])).eval()
    x = torch.rand(2, 3, 10, 7)  # padded to 12 × 8 (window 4)
    seen = []
    for module in (*model.layers, model.norm):
        module.register_forward_pre_hook(lambda _, args: seen.append(args[0].detach().clone()))
    with torch.no_grad():
        plain = model(x).reconstruction
        seen.clear()
        out = model(x, output_hidden_states=True)
        hooked = list(seen)
        model.config.output_hidden_states = True
        from_config = model(x, return_dict=False)
        with_loss = model(x, labels=torch.rand(2, 3, 20, 14), return_dict=False)
    assert list(out.keys()) == ["reconstruction", "hidden_states"] and torch.equal(out.reconstruction, plain)
    assert [tuple(h.shape) for h in out.hidden_states] == [(2, 16, 12, 8)] * 3
    for hidden, tokens in zip(out.hidden_states, hooked, strict=True):  # tokens (N, H·W, C), row-major
        assert torch.equal(hidden.flatten(2).transpose(1, 2), tokens)
    assert len(from_config) == 2 and torch.equal(from_config[0], plain)
    assert all(torch.equal(a, b) for a, b in zip(from_config[1], out.hidden_states, strict=True))
    assert [type(v) for v in with_loss] == [torch.Tensor, torch.Tensor, tuple] and with_loss[0].ndim == 0
    post_process = SwinIRImageProcessor().post_process_image_restoration
    expected = np.asarray(post_process(plain)[1])
    assert np.array_equal(np.asarray(post_process(from_config)[1]), expected)
    assert np.array_equal(np.asarray(post_process(with_loss)[1]), expected)


def test_losses(tiny_config):
    x, y = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 16, 16)
    l1 = SwinIRForImageRestoration(tiny_config()).eval()
    out = l1(x, labels=y)
    assert out.loss.item() == pytest.approx((out.reconstruction - y).abs().mean().item(), rel=1e-6)
    charb = SwinIRForImageRestoration(tiny_config(loss="charbonnier")).eval()
    charb.load_state_dict(l1.state_dict())
    diff = charb(x).reconstruction - y
    expected = torch.sqrt(diff**2 + 1e-6).mean().item()
    assert charb(x, labels=y).loss.item() == pytest.approx(expected, rel=1e-6)
    assert SwinIRConfig.from_preset("color_dn").loss == "charbonnier"
    loss, recon = l1(x, labels=y, return_dict=False)
    assert recon.shape == y.shape and loss.ndim == 0


def test_loss_function_is_the_loss_forward_computes(tiny_config, caplog):
    """`model.loss_function` (transformers' API, which its Trainer-side code reads) was transformers' causal-LM loss,
    with a `loss_type=None` warning: it is the config's L1 / Charbonnier, `forward(labels=...)`'s own, unwarned; one
    set in its place is the one `forward` computes, as in transformers' models."""
    from transformers.utils import logging as hf_logging

    x, y = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 16, 16)
    hf_logging.enable_propagation()
    try:
        for loss in ("l1", "charbonnier"):
            model = SwinIRForImageRestoration(tiny_config(loss=loss)).eval()
            out = model(x, labels=y)
            assert torch.equal(model.loss_function(out.reconstruction, y), out.loss), loss
            assert torch.equal(model.loss_function(reconstruction=out.reconstruction, labels=y), out.loss), loss
    finally:
        hf_logging.disable_propagation()
    assert caplog.records == []
    model.loss_function = lambda reconstruction, labels: (reconstruction - labels).square().mean()
    assert model(x, labels=y).loss.item() == pytest.approx((out.reconstruction - y).square().mean().item())


def test_training_steps_lower_the_loss(tiny_config):
    model = SwinIRForImageRestoration(tiny_config()).train()
    hr = torch.rand(4, 3, 16, 16)
    lr = torch.nn.functional.avg_pool2d(hr, 2)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(15):
        loss = model(lr, labels=hr).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    assert losses[-1] < 0.7 * losses[0]


def test_gradient_checkpointing_gives_the_same_gradients(tiny_config):
    config = tiny_config(depths=[2, 2], num_heads=[2, 2], drop_path_rate=0.0)
    model = SwinIRForImageRestoration(config).train()
    x, y = torch.rand(2, 3, 8, 12), torch.rand(2, 3, 16, 24)

    def grads():
        model.zero_grad()
        model(x, labels=y).loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters()}

    plain = grads()
    model.checkpoint_layers()
    name = (
        "is_activation_checkpointing"
        if hasattr(type(model), "is_activation_checkpointing")
        else "is_gradient_checkpointing"
    )
    assert getattr(model, name)
    checkpointed = grads()
    for name, g in plain.items():
        assert torch.allclose(g, checkpointed[name], atol=1e-5), name


@pytest.mark.parametrize("kernel", ["sdpa", "eager"])
def test_reentrant_checkpointing_keeps_dropout_and_stochastic_depth(tiny_config, kernel):
    """Reentrant checkpointing runs each layer's first pass without autograd: there a training layer must still
    drop paths and attention as its recomputation in the backward pass does (on CPUs the chunked inference path and
    the timed attention kernel have neither), or the loss is not the one whose gradients come back."""
    config = tiny_config(drop_path_rate=0.5, attention_probs_dropout_prob=0.3, hidden_dropout_prob=0.2)
    model = SwinIRForImageRestoration(config).train()
    model.set_attn_implementation(kernel)
    x, y = torch.rand(2, 3, 8, 12), torch.rand(2, 3, 16, 24)

    def step():
        torch.manual_seed(1)
        model.zero_grad()
        loss = model(x, labels=y).loss
        loss.backward()
        return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters()}

    plain_loss, plain = step()
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable({"use_reentrant": True})
    checkpointed_loss, checkpointed = step()
    assert checkpointed_loss == pytest.approx(plain_loss, abs=1e-6)
    for name, g in plain.items():
        assert torch.allclose(g, checkpointed[name], atol=1e-5), name


def test_resizing_token_embeddings_says_there_are_none(tiny_config):
    """The input embedding is a convolution: transformers' resize failed inside it ("too many values to unpack")."""
    model = SwinIRForImageRestoration(tiny_config())
    with pytest.raises(NotImplementedError, match=r"^SwinIR has no token embeddings to resize: its input embedding"):
        model.resize_token_embeddings(10)


def test_frozen_model_with_input_grads_trains_adapters_under_reentrant_checkpointing(tiny_config):
    """PEFT's recipe: a frozen model, trainable adapters, `enable_input_require_grads` (a hook on the input layer,
    `conv_first`) and reentrant checkpointing, which without that hook gives the adapters no gradient."""
    model = SwinIRForImageRestoration(tiny_config(depths=[2], num_heads=[2], drop_path_rate=0.0)).train()
    assert model.get_input_embeddings() is model.conv_first
    model.requires_grad_(False)
    adapters = [m.attn.qkv.weight for m in model.modules() if hasattr(m, "attn")]
    for weight in adapters:
        weight.requires_grad_(True)
    model.enable_input_require_grads()
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable({"use_reentrant": True})
    model(torch.rand(1, 3, 8, 8), labels=torch.rand(1, 3, 16, 16)).loss.backward()
    assert adapters and all(w.grad is not None and w.grad.abs().sum() > 0 for w in adapters)


@pytest.mark.parametrize("grad", [False, True])
def test_a_wrapped_mlp_layer_gets_its_update_before_the_activation(tiny_config, grad):
    """PEFT's LoRA layer wraps a linear, passes keyword arguments on to it and adds its low-rank update to what it
    returns: the MLP's GELU must come after that sum, so that the adapted model equals its merged weights
    (`merge_and_unload`), in inference (where the GELU is otherwise fused into fc1's matmul) and in training."""

    class LoraLike(torch.nn.Module):  # peft.tuners.lora.Linear's forward, in short
        def __init__(self, base):
            super().__init__()
            self.base_layer = base
            self.delta = torch.nn.Parameter(torch.randn_like(base.weight) * 0.2)

        def forward(self, x, *args, **kwargs):
            return self.base_layer(x, *args, **kwargs) + torch.nn.functional.linear(x, self.delta)

    torch.manual_seed(0)
    model = SwinIRForImageRestoration(tiny_config()).eval()
    merged = SwinIRForImageRestoration(tiny_config()).eval()
    merged.load_state_dict(model.state_dict())
    for name, module in model.named_modules():
        if name.endswith("mlp"):
            module.fc1 = LoraLike(module.fc1)
            merged.get_submodule(name).fc1.weight.data += module.fc1.delta.data
    x = torch.rand(1, 3, 12, 12)
    with torch.set_grad_enabled(grad):
        assert torch.allclose(model(x).reconstruction, merged(x).reconstruction, atol=1e-5)


def test_a_float16_model_saves_and_reloads_as_float16(tiny_config, tmp_path):
    """Loaded in float16, the model keeps its `_keep_in_fp32_modules` (the first, `conv_first`, among them) in
    float32: `dtype` is still the body's, which `save_pretrained` writes and a default reload restores."""
    SwinIRForImageRestoration(tiny_config()).save_pretrained(tmp_path / "fp32")
    half = SwinIRForImageRestoration.from_pretrained(tmp_path / "fp32", dtype=torch.float16)
    assert half.conv_first.weight.dtype == torch.float32 and half.dtype == torch.float16
    half.save_pretrained(tmp_path / "fp16")
    assert json.loads((tmp_path / "fp16/config.json").read_text())["dtype"] == "float16"
    again = SwinIRForImageRestoration.from_pretrained(tmp_path / "fp16")
    assert {n: p.dtype for n, p in again.named_parameters()} == {n: p.dtype for n, p in half.named_parameters()}
    assert SwinIRForImageRestoration(tiny_config()).dtype == torch.float32


def test_trainer_gradient_accumulation_averages_the_micro_batches(tiny_config, tmp_path):
    """transformers' Trainer divides the loss by the accumulation steps unless the model says it normalises the
    loss itself (a forward with **kwargs, unless `accepts_loss_kwargs = False`): one step over 2 × 2 samples must
    move the weights as the mean gradient does, not twice as far."""
    from transformers import Trainer, TrainingArguments

    model = SwinIRForImageRestoration(tiny_config(drop_path_rate=0.0))
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    data = [{"pixel_values": torch.rand(3, 8, 8), "labels": torch.rand(3, 16, 16)} for _ in range(4)]
    batch = {k: torch.stack([d[k] for d in data]) for k in data[0]}
    model(**batch).loss.backward()  # the mean loss of all four samples: the same as the mean of the two halves'
    expected = {n: start[n] - 0.5 * p.grad for n, p in model.named_parameters()}
    model.zero_grad()
    args = TrainingArguments(
        tmp_path,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
        max_steps=1,
        learning_rate=0.5,
        optim="sgd",
        lr_scheduler_type="constant",
        weight_decay=0.0,
        max_grad_norm=0.0,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        disable_tqdm=True,
    )
    Trainer(model=model, args=args, train_dataset=data).train()
    for name, param in model.named_parameters():
        assert torch.allclose(param.detach(), expected[name], atol=1e-5), name


def test_save_load_round_trip_is_bitwise(tiny_config, tmp_path):
    model = SwinIRForImageRestoration(tiny_config(resi_connection="3conv", upsampler="nearest+conv")).eval()
    model.save_pretrained(tmp_path)
    with safe_open(tmp_path / "model.safetensors", "pt") as f:
        assert not [k for k in f.keys() if k.endswith(("attn_mask", "relative_position_index"))]
    loaded = SwinIRForImageRestoration.from_pretrained(tmp_path).eval()
    for (n, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), n
    x = torch.rand(1, 3, 10, 6)
    with torch.no_grad():
        assert torch.equal(model(x).reconstruction, loaded(x).reconstruction)


def test_qkv_bias_false_builds_saves_and_reloads_no_qkv_bias(tiny_config, tmp_path):
    """`qkv_bias=False` (a mutant that ignored it passed every test): no Swin layer's qkv projection has a bias, which
    is 3 · embed_dim parameters fewer per layer, and the saved folder reloads the same model."""
    model = SwinIRForImageRestoration(tiny_config(qkv_bias=False)).eval()
    qkv = [m for name, m in model.named_modules() if name.endswith(".attn.qkv")]
    assert len(qkv) == 2 and [m.bias for m in qkv] == [None, None]
    sizes = [sum(p.numel() for p in m.parameters()) for m in (SwinIRForImageRestoration(tiny_config()), model)]
    assert sizes[0] - sizes[1] == 2 * 3 * 16
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["qkv_bias"] is False
    loaded = SwinIRForImageRestoration.from_pretrained(tmp_path).eval()
    assert loaded.config.qkv_bias is False and list(loaded.state_dict()) == list(model.state_dict())
    x = torch.rand(1, 3, 10, 6)
    with torch.no_grad():
        assert torch.equal(model(x).reconstruction, loaded(x).reconstruction)


def test_sharded_folders_load_strictly_and_replace_an_earlier_layout(tiny_config, tmp_path):
    """Saving sharded where a single model.safetensors was (or the reverse) leaves no weights of the earlier save:
    transformers removes old shards but not an old single file, which from_pretrained would load instead. A missing
    shard is an error naming it."""
    old, new = SwinIRForImageRestoration(tiny_config()).eval(), SwinIRForImageRestoration(tiny_config()).eval()
    x = torch.rand(1, 3, 6, 5)
    old.save_pretrained(tmp_path)
    new.save_pretrained(tmp_path, max_shard_size="10KB")
    assert not (tmp_path / "model.safetensors").exists()
    with torch.no_grad():
        assert torch.equal(SwinIRForImageRestoration.from_pretrained(tmp_path)(x).reconstruction, new(x).reconstruction)
    shard = sorted(tmp_path.glob("model-*.safetensors"))[-1]
    shard.rename(tmp_path / "elsewhere")
    with pytest.raises(OSError, match=shard.name):
        SwinIRForImageRestoration.from_pretrained(tmp_path)
    old.save_pretrained(tmp_path)
    assert not list(tmp_path.glob("model*.safetensors.index.json")) and not list(tmp_path.glob("model-*"))
    with torch.no_grad():
        assert torch.equal(SwinIRForImageRestoration.from_pretrained(tmp_path)(x).reconstruction, old(x).reconstruction)


@pytest.mark.parametrize(
    ("edit", "described"),
    [
        ({"upscale": 1000}, "a model of at least 432,"),  # its head: 3·1000² output channels of 3 × 3 × 16
        ({"embed_dim": 10**6}, "a model of "),
        ({"image_size": 10**9, "use_absolute_embeddings": True}, "a model of at least 16,000,000,"),  # its embedding
    ],
)
def test_a_config_far_larger_than_its_weights_is_refused_before_allocating(
    tiny_config, tmp_path, monkeypatch, edit, described
):
    """An edited or damaged config.json is compared with the weights' headers before transformers builds the model:
    `upscale` 1000 took 5.5 GB and 33 s before the mismatch was reported, `embed_dim` 10**6 an allocator's
    traceback."""
    from transformers import AutoModelForImageToImage, PreTrainedModel

    from swinir_hf.models.loading_swinir import IncompatibleWeightsError

    SwinIRForImageRestoration(tiny_config()).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, **edit}))
    monkeypatch.setattr(PreTrainedModel, "from_pretrained", classmethod(lambda *a, **k: pytest.fail("built")))
    # The Auto classes pass the folder's own config as `config=`: the file is still the one blamed.
    for load in (SwinIRForImageRestoration.from_pretrained, AutoModelForImageToImage.from_pretrained):
        with pytest.raises(IncompatibleWeightsError) as err:
            load(tmp_path)
        assert str(err.value).startswith(f"{tmp_path}: its config.json describes {described}")
        assert str(err.value).endswith(
            "values: the config and the weights do not belong together (an edited or damaged config.json?)"
        )


def test_weights_lacking_most_of_the_model_name_what_they_lack(tiny_config, tmp_path):
    """A folder whose weights lack tensors holding most of the values (left out of a save) was refused by the size
    check as "its config.json describes a model of 11,536 parameters, but its weights hold 4,752 values: ... (an
    edited or damaged config.json?)", blaming a config that is fine. It now names the missing parameters, as a folder
    lacking fewer is told; a config edited to a larger model is judged as before."""
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForImageToImage, pipeline

    from swinir_hf.models.loading_swinir import IncompatibleWeightsError

    SwinIRForImageRestoration(tiny_config()).save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    lost = ("conv_after_body.", "layers.0.conv.", ".mlp.")  # 6,784 of the 11,536 values
    kept = {name: tensor for name, tensor in weights.items() if not any(part in name for part in lost)}
    save_file(kept, tmp_path / "model.safetensors", metadata={"format": "pt"})
    missing = sorted(set(weights) - set(kept))
    named = ", ".join(missing[:6]) + f", … (+{len(missing) - 6} more)"
    for load in (SwinIRForImageRestoration.from_pretrained, AutoModelForImageToImage.from_pretrained):
        with pytest.raises(IncompatibleWeightsError) as err:
            load(tmp_path)
        assert str(err.value) == (
            f"{tmp_path}: the weights do not fit its config.json: missing {named}. The folder is incomplete or its "
            "config.json was edited: re-export it (swinir-hf convert, or save_pretrained)"
        )
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path}: the weights do not fit its config.json: missing ")):
        pipeline("image-restoration", model=str(tmp_path))


def test_the_size_check_judges_the_config_the_folder_is_loaded_with(tiny_config, tmp_path):
    """A folder whose config.json does not fit its weights loads with a `config=` or config fields that do, as
    transformers loads it: the check judges that config, not the file's."""
    tiny = tiny_config()
    SwinIRForImageRestoration(tiny).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "embed_dim": 64}))
    for kwargs in ({"config": tiny}, {"embed_dim": tiny.embed_dim}):
        assert SwinIRForImageRestoration.from_pretrained(tmp_path, **kwargs).config.embed_dim == tiny.embed_dim
    with pytest.raises(ValueError, match="the config given describes a model of") as err:
        SwinIRForImageRestoration.from_pretrained(tmp_path, config=tiny_config(embed_dim=96))
    # The folder is not to blame for the caller's config: the message says to load it with its own.
    assert str(err.value).endswith("(pass no config or fields, so that its config.json is used)")
    # A setting refused as such is not a config that does not fit its weights (it read "an edited or damaged
    # config.json?").
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match='^SwinIR cannot use attn_implementation="flash_attention_2"'):
        SwinIRForImageRestoration.from_pretrained(tmp_path, attn_implementation="flash_attention_2")


def test_weights_that_do_not_fit_a_config_given_to_from_pretrained_say_how_to_load_them(tiny_config, tmp_path):
    """`from_pretrained(x2_folder, upscale=4)` (or a `config=` of another head): the folder is fine, so the error
    does not tell to re-export it but how to start that model from these weights, which then loads."""
    from transformers import AutoModelForImageToImage

    from swinir_hf.models.loading_swinir import IncompatibleWeightsError

    model = SwinIRForImageRestoration(tiny_config())
    model.save_pretrained(tmp_path)
    for kwargs in ({"upscale": 4}, {"config": tiny_config(upscale=4)}, {"upscale": 4, "dtype": torch.float32}):
        with pytest.raises(IncompatibleWeightsError) as err:
            SwinIRForImageRestoration.from_pretrained(tmp_path, **kwargs)
        assert str(err.value).startswith(f"{tmp_path}: the weights do not fit the config given to from_pretrained")
        assert "pass ignore_mismatched_sizes=True" in str(err.value) and "re-export" not in str(err.value)
    x4 = SwinIRForImageRestoration.from_pretrained(tmp_path, upscale=4, ignore_mismatched_sizes=True)
    assert x4.config.upscale == 4 and torch.equal(x4.conv_first.weight, model.conv_first.weight)
    with pytest.raises(IncompatibleWeightsError, match="the weights do not fit the config given to from_pretrained"):
        AutoModelForImageToImage.from_pretrained(tmp_path, upscale=4)  # AutoConfig applies it to the config passed
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "upscale": 4}))  # the folder's own config: its fault
    # The Auto classes and the pipeline pass the folder's config as `config=`: that is no config given by the caller
    # (they said to pass ignore_mismatched_sizes=True, which loads a partly random model).
    for load in (SwinIRForImageRestoration.from_pretrained, AutoModelForImageToImage.from_pretrained):
        with pytest.raises(IncompatibleWeightsError, match="the weights do not fit its config.json: .* re-export it"):
            load(tmp_path, dtype=torch.float32, output_hidden_states=True)


def test_weights_without_a_config_are_not_loaded_as_a_default_model(tiny_config, tmp_path):
    """Found by a training audit: a training checkpoint (accelerate's model.safetensors, the loadable model in
    model/) read as a default 11.5 M-parameter model "whose config.json" did not fit; it now says where the model
    is. With a `config=` the weights load."""
    tiny = tiny_config()
    SwinIRForImageRestoration(tiny).save_pretrained(tmp_path / "model")
    shutil.copy(tmp_path / "model" / "model.safetensors", tmp_path)
    with pytest.raises(OSError) as err:
        SwinIRForImageRestoration.from_pretrained(tmp_path)
    assert str(err.value) == (
        f"{tmp_path} has weights but no config.json, so it is not a saved model folder: its model is in "
        f"{tmp_path / 'model'} (a training checkpoint's loadable model)"
    )
    assert SwinIRForImageRestoration.from_pretrained(tmp_path, config=tiny).config.embed_dim == tiny.embed_dim
    # ... and so do config fields (transformers builds the config from them)
    fields = {k: v for k, v in tiny.to_diff_dict().items() if k in type(tiny)().to_dict()}
    loaded = SwinIRForImageRestoration.from_pretrained(tmp_path, **fields)
    assert loaded.num_parameters() == SwinIRForImageRestoration(tiny).num_parameters()


def test_layers_shift_and_drop_paths_as_the_authors(tiny_config):
    """As the authors' code: every second Swin layer of an RSTB shifts by half a window, unless the training patch is
    no larger than one window, and stochastic depth rises linearly from 0 to drop_path_rate over all layers."""

    def blocks(**fields):
        model = SwinIRForImageRestoration(tiny_config(depths=[2, 3], num_heads=[2, 2], **fields))
        return [block for layer in model.layers for block in layer.residual_group.blocks]

    assert [b.shift_size for b in blocks(image_size=8)] == [0, 2, 0, 2, 0]
    assert [b.shift_size for b in blocks(image_size=4)] == [0] * 5  # image_size = window_size
    rates = [b.drop_path_rate for b in blocks(drop_path_rate=0.2)]
    assert rates == pytest.approx(torch.linspace(0, 0.2, 5).tolist())


def test_shift_masks_are_cached_per_size(tiny_config):
    model = SwinIRForImageRestoration(tiny_config()).eval()
    with torch.no_grad():
        model(torch.rand(1, 3, 8, 8))
        first = model.shift_mask(8, 8, torch.device("cpu"))
        model(torch.rand(1, 3, 8, 8))
    assert model.shift_mask(8, 8, torch.device("cpu")) is first
    assert first.shape == (4, 16, 16)
    sizes = [(8 * i, 8) for i in range(2, 12)]
    masks = [model.shift_mask(h, w, torch.device("cpu")) for h, w in sizes]
    assert list(model._shift_masks) == [(h, w, "cpu") for h, w in sizes[-8:]]  # the 8 newest sizes kept
    kept = zip(sizes[-8:], masks[-8:], strict=True)
    assert all(model.shift_mask(*size, torch.device("cpu")) is mask for size, mask in kept)


def test_a_model_copied_while_a_mask_is_added_copies_no_masks(tiny_config, monkeypatch):
    """The engine deep-copies a model that another thread is running (to run it in another dtype); that thread adding
    a shift mask meanwhile broke the copy with "dictionary changed size during iteration" (a threads test failed in
    CI). Masks are derived from the config: a copy, deep or pickled, starts with none and builds its own."""
    import copy
    import pickle

    model = SwinIRForImageRestoration(tiny_config()).eval()
    x = torch.rand(1, 3, 8, 12)
    with torch.no_grad():
        expected = model(x).reconstruction
    assert list(model._shift_masks) == [(8, 12, "cpu")]
    tensor_deepcopy = torch.Tensor.__deepcopy__

    def another_thread_adds_a_mask(tensor, memo):  # what the other thread does while a mask is copied
        model.shift_mask(4 * (len(model._shift_masks) + 2), 4, torch.device("cpu"))
        return tensor_deepcopy(tensor, memo)

    monkeypatch.setattr(torch.Tensor, "__deepcopy__", another_thread_adds_a_mask)
    copied = copy.deepcopy(model)
    monkeypatch.undo()
    for twin in (copied, pickle.loads(pickle.dumps(model))):
        assert not twin._shift_masks
        with torch.no_grad():
            assert torch.equal(twin(x).reconstruction, expected)
        assert list(twin._shift_masks) == [(8, 12, "cpu")]


def test_large_shift_masks_are_cached_within_a_byte_bound(tiny_config, monkeypatch):
    """A server sees many sizes: 8 cached masks of large maps held GBs (256 MiB each at 1024², window 8) after the
    calls that needed them. Beyond the 2 newest, they are kept only while all take at most the bound."""
    from swinir_hf.models import modeling_swinir
    from swinir_hf.models.windows_swinir import shift_window_mask

    model = SwinIRForImageRestoration(tiny_config()).eval()
    cpu = torch.device("cpu")
    sizes = [(64, 64 + 8 * i) for i in range(8)]  # masks of 256 to 480 KiB at window 4
    bound = shift_window_mask(*sizes[-1], 4, 2).nbytes * 3
    monkeypatch.setattr(modeling_swinir, "SHIFT_MASK_CACHE_BYTES", bound, raising=False)
    masks = [model.shift_mask(h, w, cpu) for h, w in sizes]
    assert sum(m.nbytes for m in model._shift_masks.values()) <= bound
    assert list(model._shift_masks) == [(h, w, "cpu") for h, w in sizes[-3:]]  # the newest that fit the bound
    assert model.shift_mask(*sizes[-1], cpu) is masks[-1]
    huge = [(512, 512), (512, 520)]  # each over the bound: the 2 newest are kept all the same
    assert [model.shift_mask(h, w, cpu) is model.shift_mask(h, w, cpu) for h, w in huge] == [True, True]
    assert list(model._shift_masks) == [(h, w, "cpu") for h, w in huge]


def test_a_shift_mask_evicted_by_another_thread_meanwhile_is_still_returned(tiny_config):
    """The demo's jobs share a model: another thread may evict a size between this call storing its mask and
    returning it (a KeyError before)."""

    class Evicting(dict):
        def __setitem__(self, key, value):  # stored, then evicted at once by "another thread"
            pass

    model = SwinIRForImageRestoration(tiny_config()).eval()
    from swinir_hf.models.windows_swinir import shift_window_mask

    model._shift_masks = Evicting()
    mask = model.shift_mask(16, 8, torch.device("cpu"))
    assert torch.equal(mask, shift_window_mask(16, 8, 4, 2))


def test_bfloat16_forward_is_close_to_float32(tiny_config):
    model = SwinIRForImageRestoration(tiny_config()).eval()
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        ref = model(x).reconstruction
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x).reconstruction
    assert (low.float() - ref).abs().max() < 0.05


def test_caches_built_under_inference_mode_still_train(tiny_config):
    model = SwinIRForImageRestoration(tiny_config(window_size=5, image_size=20)).eval()
    with torch.inference_mode():
        model(torch.rand(1, 3, 10, 10))
    model.train()
    model(torch.rand(1, 3, 10, 10), labels=torch.rand(1, 3, 20, 20)).loss.backward()
    assert model.conv_first.weight.grad is not None


@pytest.mark.parametrize(
    ("upsampler", "scale"),
    [
        ("pixelshuffle", 2),
        ("pixelshuffle", 3),
        ("pixelshuffle", 8),
        ("pixelshuffledirect", 4),
        ("nearest+conv", 4),
        ("nearest+conv", 2),
        (None, 1),
    ],
)
def test_chunked_inference_equals_the_whole_image_pass(tiny_config, upsampler, scale):
    """Without autograd the layers run over token chunks and the head over row bands (here: 2-window chunks and
    8-row bands, far smaller than the image) — the output must equal the training-style whole-image pass."""
    config = tiny_config(upsampler=upsampler, upscale=scale, depths=[2, 2], num_heads=[2, 2], drop_path_rate=0.0)
    model = SwinIRForImageRestoration(config).eval()
    x = torch.rand(2, 3, 37, 29)  # not window multiples: padding, partial last chunk and band
    whole = model(x).reconstruction  # grad enabled: the unchunked path
    model.config.inference_chunk_size = 32
    with torch.no_grad():
        chunked = model(x).reconstruction
    model.config.inference_chunk_size = 0
    with torch.no_grad():
        unchunked = model(x).reconstruction
    assert torch.allclose(unchunked, whole, atol=1e-6)
    assert (chunked - whole).abs().max() < 1e-5


@pytest.mark.parametrize("kernel", ["matmul", "sdpa"])
def test_either_cpu_attention_kernel_gives_the_whole_image_pass(tiny_config, kernel, monkeypatch):
    """CPU inference computes the window attention with whichever kernel `faster_cpu_attention` picks: each, forced,
    gives the training-style pass's output, in chunks and whole; SDPA redoes the border windows with the shift mask
    (here: 2-window chunks, most with no border window, the last window row all border)."""
    from swinir_hf.models import runtime_swinir

    config = tiny_config(upscale=2, depths=[2, 2], num_heads=[2, 2], drop_path_rate=0.0)
    model = SwinIRForImageRestoration(config).eval()
    x = torch.rand(2, 3, 37, 29)
    whole = model(x).reconstruction  # grad enabled: never timed, always the configured kernel
    monkeypatch.setenv("SWINIR_CPU_ATTENTION", "auto")
    asked = []
    monkeypatch.setattr(runtime_swinir, "faster_cpu_attention", lambda *shape: asked.append(shape) or kernel)
    sdpa = torch.nn.functional.scaled_dot_product_attention
    calls = []
    monkeypatch.setattr(
        torch.nn.functional, "scaled_dot_product_attention", lambda *a, **k: calls.append(1) or sdpa(*a, **k)
    )
    for chunk in (32, 0):
        model.config.inference_chunk_size = chunk
        with torch.no_grad():
            out = model(x).reconstruction
        assert (out - whole).abs().max() < 1e-5, chunk
    head_dim = config.embed_dim // 2
    assert set(asked) == {(2, 16, head_dim, torch.float32, torch.get_num_threads())}
    assert bool(calls) == (kernel == "sdpa")
    # "eager" is the authors' matmuls, never timed.
    asked.clear()
    model.set_attn_implementation("eager")
    with torch.no_grad():
        model(x)
    assert asked == []


@pytest.mark.parametrize("kernel", ["matmul", "sdpa"])
def test_chunked_cpu_inference_copies_no_attention_output(tiny_config, kernel, monkeypatch):
    """A shifted layer's chunked CPU inference uses each attention output where it lies: a band that one call covers
    is not copied into a band buffer (`copy_`), and SDPA's redone border windows go back in place (an out-of-place
    `index_copy` made its token-major output head-major, which merging the heads then copied back). Each was a copy
    of the attention output per call (sr-x4 under SDPA at 64-128²: 7-14 % of the forward; benchmarks/README.md)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Ops(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            ops.append(func)
            return func(*args, **(kwargs or {}))

    monkeypatch.setenv("SWINIR_CPU_ATTENTION", kernel)
    model = SwinIRForImageRestoration(tiny_config(drop_path_rate=0.0)).eval()
    block = model.layers[0].residual_group.blocks[1]
    assert block.shift_size  # one band, one attention call (16 windows, default chunk), border windows masked
    x, mask, ops = torch.rand(1, 16 * 16, 16), model.shift_mask(16, 16, torch.device("cpu")), []
    with torch.no_grad(), Ops():
        block(x, (16, 16), mask)
    assert torch.ops.aten.copy_.default not in ops
    assert torch.ops.aten.index_copy.default not in ops
    # The band written back, and under SDPA the border windows redone with the mask.
    assert ops.count(torch.ops.aten.index_copy_.default) == 1 + (kernel == "sdpa")


def test_cpu_attention_is_timed_once_per_shape_unless_pinned(tiny_config, monkeypatch):
    from swinir_hf.models import runtime_swinir
    from swinir_hf.models.runtime_swinir import cpu_attention_kernel, faster_cpu_attention

    model = SwinIRForImageRestoration(tiny_config()).eval()
    x = torch.rand(1, 3, 9, 9)
    for pinned in ("matmul", "sdpa"):
        monkeypatch.setenv("SWINIR_CPU_ATTENTION", pinned)
        assert cpu_attention_kernel(2, 16, 8, torch.float32) == pinned
    monkeypatch.setenv("SWINIR_CPU_ATTENTION", "fastest")
    with pytest.raises(ValueError, match="SWINIR_CPU_ATTENTION must be auto, matmul or sdpa, got 'fastest'"):
        with torch.no_grad():
            model(x)
    monkeypatch.setenv("SWINIR_CPU_ATTENTION", "auto")
    monkeypatch.setattr(runtime_swinir, "faster_cpu_attention", lambda *shape: "timed")
    assert cpu_attention_kernel(2, 16, 8, torch.float32) == "timed"
    monkeypatch.undo()
    faster_cpu_attention.cache_clear()
    picks = {faster_cpu_attention(2, 16, 8, torch.float32, threads) for threads in (1, 2)}
    assert picks <= {"matmul", "sdpa"}
    faster_cpu_attention(2, 16, 8, torch.float32, 1)
    info = faster_cpu_attention.cache_info()
    assert (info.misses, info.hits) == (2, 1)


def test_an_empty_cpu_attention_variable_is_auto(tiny_config, monkeypatch):
    # `SWINIR_CPU_ATTENTION=` (set but empty) raised "must be auto, matmul or sdpa, got ''" on the first CPU forward.
    from swinir_hf.models import runtime_swinir

    monkeypatch.setenv("SWINIR_CPU_ATTENTION", "")
    monkeypatch.setattr(runtime_swinir, "faster_cpu_attention", lambda *shape: "matmul")
    assert runtime_swinir.cpu_attention_kernel(2, 16, 8, torch.float32) == "matmul"
    model = SwinIRForImageRestoration(tiny_config()).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 9, 9)).reconstruction.shape == (1, 3, 18, 18)


def test_threads_asking_for_the_cpu_attention_kernel_at_once_time_it_once(monkeypatch):
    """Each thread that asked before the first answer was cached timed the kernels itself (under the others' load)
    and could run another kernel than the rest for that call."""
    from functools import lru_cache

    from swinir_hf.models import runtime_swinir
    from swinir_hf.models.runtime_swinir import cpu_attention_kernel

    timings = []

    @lru_cache
    def slow_timing(*shape):
        timings.append(shape)
        time.sleep(0.3)
        return ("sdpa", "matmul")[len(timings) % 2]

    monkeypatch.setattr(runtime_swinir, "faster_cpu_attention", slow_timing)
    monkeypatch.setenv("SWINIR_CPU_ATTENTION", "auto")
    with ThreadPoolExecutor(3) as pool:
        picks = list(pool.map(lambda _: cpu_attention_kernel(2, 16, 8, torch.float32), range(3)))
    assert len(timings) == 1 and picks == ["matmul"] * 3


def test_inference_chunk_size_must_be_a_non_negative_int(tiny_config):
    from huggingface_hub.errors import StrictDataclassError

    with pytest.raises(ValueError, match="inference_chunk_size must be >= 0, got -1"):
        tiny_config(inference_chunk_size=-1)
    with pytest.raises(StrictDataclassError, match="'inference_chunk_size' expected int, got float"):
        tiny_config(inference_chunk_size=1.5)


def test_config_fields_are_typed_and_normalised(tiny_config):
    """transformers 5's strict dataclass config: wrong types refused, JSON / YAML spellings normalised."""
    from huggingface_hub.errors import StrictDataclassError

    config = tiny_config(mlp_ratio=2, img_range=1, rgb_mean=[0, 0, 0], depths=(2, 2), num_heads=(2, 2))
    assert (config.mlp_ratio, config.img_range, config.rgb_mean) == (2.0, 1.0, [0.0, 0.0, 0.0])
    assert config.depths == [2, 2] and config.num_heads == [2, 2]
    same = tiny_config(mlp_ratio=2.0, img_range=1.0, rgb_mean=[0.0] * 3, depths=[2, 2], num_heads=[2, 2])
    assert type(config.mlp_ratio) is float and config == same
    assert SwinIRConfig(upsampler="").upsampler is None  # the authors' spelling of "no upsampler"
    with pytest.raises(StrictDataclassError, match="'embed_dim' expected int, got str"):
        tiny_config(embed_dim="16")
    with pytest.raises(StrictDataclassError, match="'depths'"):
        tiny_config(depths=[2.5, 2])


def test_every_float_field_takes_an_int(tiny_config, tmp_path):
    """A hand-written config.json / YAML has `1` for `1.0`: every float field (not only mlp_ratio) takes it and
    stores a float, so the config loads and serialises like its float spelling."""
    import dataclasses
    import typing

    names = [f.name for f in dataclasses.fields(SwinIRConfig) if float in (f.type, *typing.get_args(f.type))]
    assert {"qk_scale", "layer_norm_eps", "charbonnier_eps", "initializer_range", "drop_path_rate"} <= set(names)
    ints = {name: 0 if name.endswith(("_prob", "_rate")) else 1 for name in names}
    (tmp_path / "config.json").write_text(json.dumps({**tiny_config().to_dict(), **ints}))
    config = SwinIRConfig.from_pretrained(tmp_path)
    assert {name: getattr(config, name) for name in names} == ints
    assert all(type(getattr(config, name)) is float for name in names)
    assert config.to_dict() == tiny_config(**{name: float(value) for name, value in ints.items()}).to_dict()


def test_a_config_edited_after_construction_is_checked_when_a_model_is_built(tiny_config):
    from transformers import AutoModel

    for change, message in (({"upsampler": "bogus"}, "upsampler must be one of"), ({"embed_dim": 15}, "divisible")):
        config = tiny_config()
        config.update(change)
        with pytest.raises(ValueError, match=message):
            SwinIRForImageRestoration(config)
        with pytest.raises(ValueError, match=message):
            AutoModel.from_config(config)


def test_config_validators_run_at_construction_and_on_save(tiny_config, tmp_path):
    """Our checks are the class validators of huggingface_hub's strict dataclass: transformers runs them (with its
    own) when saving, so a config broken after construction is not written."""
    from huggingface_hub.errors import StrictDataclassClassValidationError

    validators = {v.__name__ for v in SwinIRConfig.__class_validators__}
    assert {"validate_body", "validate_head", "validate_training", "validate_architecture"} <= validators
    config = tiny_config()
    config.save_pretrained(tmp_path / "ok")
    loaded = SwinIRConfig.from_pretrained(tmp_path / "ok").to_dict()
    assert loaded | {"transformers_version": None} == config.to_dict() | {"transformers_version": None}
    config.upsampler = None  # same-size restoration: upscale must be 1
    with pytest.raises(StrictDataclassClassValidationError, match="upscale must be 1 for upsampler None, got 2"):
        config.save_pretrained(tmp_path / "bad")
    assert not (tmp_path / "bad" / "config.json").exists()


def test_only_eager_cpu_inference_is_chunked(tiny_config, monkeypatch):
    from swinir_hf.models.runtime_swinir import chunked_inference

    config = tiny_config()
    cpu, meta = torch.empty(1), torch.empty(1, device="meta")
    with torch.no_grad():
        assert chunked_inference(config, cpu)
        assert not chunked_inference(config, meta)  # any non-CPU device runs whole layers
        assert not chunked_inference(tiny_config(inference_chunk_size=0), cpu)
    assert not chunked_inference(config, cpu)  # autograd: training runs whole layers
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    with torch.no_grad():
        assert not chunked_inference(config, cpu)  # compilers get whole layers, not unrolled chunk loops


def test_torch_compile_matches_eager_without_warnings(tiny_config):
    """A compiled model gives eager's pixels, and dynamo says nothing about the cached relative-position index."""
    import warnings

    torch._dynamo.reset()
    model = SwinIRForImageRestoration(tiny_config()).eval()
    x = torch.rand(1, 3, 12, 10)
    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
        warnings.simplefilter("always")
        # torch's word on the interpreter itself, once per guard, on Python 3.13.0 exactly: not about the model.
        warnings.filterwarnings("ignore", "Guards may run slower on Python 3.13.0", RuntimeWarning)
        compiled = torch.compile(model, backend="aot_eager")(x).reconstruction
    assert torch.allclose(compiled, model(x).reconstruction, atol=1e-6)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("regions", [False, True], ids=["whole model", "each layer"])
def test_a_compiled_training_step_makes_every_tensor_on_the_models_device(tiny_config, regions):
    """The tensors a traced training step creates (relative-position and border indices, the shift mask) name the
    model's device: one made on the host would, on a GPU, be copied over at every step, and CUDA graphs (inductor's
    reduce-overhead mode) skip a graph that holds one."""
    from swinir_hf.training.compiling import compile_layers

    torch._dynamo.reset()
    made = []

    def recording(gm: torch.fx.GraphModule, inputs: list) -> Callable:
        factories = (torch.arange, torch.zeros, torch.ones, torch.full, torch.empty, torch.tensor)
        made.extend(node for node in gm.graph.nodes if node.target in factories)
        return gm.forward

    model = SwinIRForImageRestoration(tiny_config(depths=[2], drop_path_rate=0.0)).train()
    step = model
    if regions:
        compile_layers(model, recording, None)
    else:
        step = torch.compile(model, backend=recording)
    step(pixel_values=torch.rand(2, 3, 8, 8), labels=torch.rand(2, 3, 16, 16)).loss.backward()
    torch._dynamo.reset()
    assert made  # the indices are built in the trace (not cached there)
    assert [node.target.__name__ for node in made if node.kwargs.get("device") is None] == []


def test_compiled_layers_of_more_kinds_than_torchs_cap_are_all_compiled(tiny_config):
    """Ten kinds of Swin layer (five head counts, shifted or not; stochastic depth on all but the first): the layers
    share one function, whose graphs torch caps at 8 by default, leaving the layers of two kinds eager while the log
    said every layer was compiled. `compile_layers` raises the cap, and each kind compiles once (dynamo's graphs and
    their cap are the same whatever the backend: "eager" spares aot_eager's tracing of the backward)."""
    from torch._dynamo.utils import counters

    from swinir_hf.training.compiling import compile_layers

    config = tiny_config(depths=[2] * 5, num_heads=[1, 2, 4, 8, 16], drop_path_rate=0.1)
    model = SwinIRForImageRestoration(config).train()
    # torch's own patching (the default cap; restored after): pytest's would delete the entry on the way out
    with torch._dynamo.config.patch(recompile_limit=8):
        line = compile_layers(model, "eager", None)
        torch._dynamo.reset()
        counters.clear()
        model(pixel_values=torch.rand(2, 3, 16, 16), labels=torch.rand(2, 3, 32, 32)).loss.backward()
    torch._dynamo.reset()
    assert line == "train.compile_regions: 10 Swin layers compiled apart, 10 graphs"
    assert counters["stats"]["unique_graphs"] == 10
    assert torch._dynamo.config.recompile_limit == 8


def test_linear_without_onednn_falls_back_to_the_same_output(tiny_config, monkeypatch):
    """Builds of torch without the private oneDNN linear op (feature-detected at import) take `F.linear`."""
    from swinir_hf.models import runtime_swinir

    model = SwinIRForImageRestoration(tiny_config(depths=[2, 2], num_heads=[2, 2])).eval()
    x = torch.rand(2, 3, 13, 9)
    with torch.no_grad():
        fused = model(x).reconstruction
        calls = []
        monkeypatch.setattr(runtime_swinir, "_ONEDNN_LINEAR_DTYPES", ())
        monkeypatch.setattr(torch.nn.functional, "linear", lambda *a: calls.append(1) or torch._C._nn.linear(*a))
        fallback = model(x).reconstruction
    assert calls  # the fallback really ran
    torch.testing.assert_close(fallback, fused, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("size", [(4, 4), (4, 16), (16, 4), (8, 12), (12, 8), (16, 16), (40, 52)])
def test_shift_border_windows_are_the_masks_non_zero_windows(size):
    from swinir_hf.models.windows_swinir import shift_border_windows, shift_window_mask

    mask = shift_window_mask(*size, 4, 2)
    expected = (mask.amin(dim=(1, 2)) < 0).nonzero().squeeze(1)
    assert torch.equal(shift_border_windows(*size, 4), expected)


def test_torch_export_gives_eager_outputs(tiny_config):
    """`torch.export` (and so `torch.onnx.export(dynamo=True)`) traces the model: the shifted windows' mask no longer
    goes through a data-dependent `nonzero`, which export refused ("Could not guard on data-dependent expression")."""
    import warnings

    model = SwinIRForImageRestoration(tiny_config()).eval()
    x = torch.rand(1, 3, 8, 12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exported = torch.export.export(model, (x,)).module()
    assert not [w for w in caught if "_shift_masks" in str(w.message)]  # nothing cached while tracing
    for _ in range(2):
        with torch.no_grad():
            torch.testing.assert_close(exported(x)["reconstruction"], model(x).reconstruction, rtol=1e-5, atol=1e-5)
        x = torch.rand(1, 3, 8, 12)


def test_attn_implementation_sdpa_and_eager_are_honoured(tiny_config, tmp_path, monkeypatch):
    """`attn_implementation="sdpa"` loads (it was refused as unsupported, though SDPA was what ran) and runs
    `F.scaled_dot_product_attention`; "eager" runs explicit matmuls; both give the same loss and gradients, and
    `set_attn_implementation` switches between them."""
    SwinIRForImageRestoration(tiny_config()).save_pretrained(tmp_path)
    sdpa = torch.nn.functional.scaled_dot_product_attention
    calls = []
    monkeypatch.setattr(
        torch.nn.functional, "scaled_dot_product_attention", lambda *a, **k: calls.append(1) or sdpa(*a, **k)
    )
    x, y = torch.rand(2, 3, 8, 12), torch.rand(2, 3, 16, 24)

    def run(model):
        calls.clear()
        model.zero_grad()
        torch.manual_seed(1)  # the same stochastic depth
        loss = model(x, labels=y).loss
        loss.backward()
        return loss, [p.grad for p in model.parameters()], len(calls)

    results = {}
    for impl in ("sdpa", "eager"):
        model = SwinIRForImageRestoration.from_pretrained(tmp_path, attn_implementation=impl).train()
        assert model.config._attn_implementation == impl
        results[impl] = run(model)
    assert results["sdpa"][2] > 0 and results["eager"][2] == 0
    torch.testing.assert_close(results["eager"][0], results["sdpa"][0])
    for eager, fused in zip(results["eager"][1], results["sdpa"][1], strict=True):
        torch.testing.assert_close(eager, fused, rtol=1e-4, atol=1e-6)
    model.set_attn_implementation("sdpa")
    assert run(model)[2] > 0


@pytest.mark.parametrize(
    ("shape", "calls_per_shifted_layer"),
    [((4, 3, 8, 8), 1), ((1, 3, 16, 20), 2)],
    ids=["batch-of-patches-one-pass", "one-image-border-redo"],
)
def test_both_ways_of_sdpa_over_shifted_windows_give_the_eager_loss_and_gradients(
    tiny_config, shape, calls_per_shifted_layer, monkeypatch
):
    """SDPA computes shifted windows in one call with every window position's mask where that mask is the smaller
    (a batch of small patches: 4 windows, 3 of them on the border, ×4 images) and else plainly, then its border
    windows again with the mask (one image of 20 windows, 8 on the border); either way, the explicit attention's
    loss and gradients."""
    from swinir_hf.models.modeling_swinir import shifted_in_one_pass

    # gpu_sr_x4's batch: 32 × 64 windows, 15 on the border; CUDA keeps the redo until a GPU has timed both
    assert shifted_in_one_pass(64, 32 * 64, 15, torch.device("cpu"))
    assert not shifted_in_one_pass(64, 32 * 64, 15, torch.device("cuda"))
    assert not shifted_in_one_pass(64, 4 * 64, 15, torch.device("cpu"))
    config = tiny_config(depths=[2, 2], num_heads=[2, 2])  # layers 2 and 4 shifted
    x = torch.rand(shape)
    y = torch.rand(shape[0], 3, 2 * shape[2], 2 * shape[3])
    sdpa = torch.nn.functional.scaled_dot_product_attention
    calls = []
    monkeypatch.setattr(
        torch.nn.functional, "scaled_dot_product_attention", lambda *a, **k: calls.append(1) or sdpa(*a, **k)
    )
    results = {}
    for impl in ("sdpa", "eager"):
        torch.manual_seed(0)
        model = SwinIRForImageRestoration(config).train()
        model.set_attn_implementation(impl)
        calls.clear()
        loss = model(x, labels=y).loss
        loss.backward()
        results[impl] = loss, [p.grad for p in model.parameters()]
    assert len(calls) == 0  # the eager run's
    model.set_attn_implementation("sdpa")
    model(x, labels=y)
    assert len(calls) == 2 + 2 * calls_per_shifted_layer
    torch.testing.assert_close(results["sdpa"][0], results["eager"][0])
    for fused, eager in zip(results["sdpa"][1], results["eager"][1], strict=True):
        torch.testing.assert_close(fused, eager, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 3, 8, 12), (1, 3, 16, 20)], ids=["one-pass", "border-redo"])
def test_heads_padded_for_fused_sdpa_give_the_same_outputs_and_gradients(tiny_config, shape, monkeypatch):
    """On CUDA, SDPA gets q, k, v zero-padded to a head dim its fused kernels take (10 → 16 for SwinIR-S); forced on
    the CPU here, that path must give the unpadded loss and gradients (shifted windows' border windows included),
    either way the shifted windows are computed."""
    from swinir_hf.models import modeling_swinir

    assert [modeling_swinir.fused_sdpa_padding(d, torch.device("cuda")) for d in (10, 16, 30)] == [6, 0, 2]
    assert modeling_swinir.fused_sdpa_padding(10, torch.device("cpu")) == 0
    model = SwinIRForImageRestoration(tiny_config(embed_dim=20, depths=[2, 2], num_heads=[2, 2])).train()
    x, y = torch.rand(shape), torch.rand(shape[0], 3, 2 * shape[2], 2 * shape[3])
    sdpa = torch.nn.functional.scaled_dot_product_attention
    head_dims = []
    monkeypatch.setattr(
        torch.nn.functional,
        "scaled_dot_product_attention",
        lambda q, *a, **k: head_dims.append(q.shape[-1]) or sdpa(q, *a, **k),
    )

    def run():
        model.zero_grad()
        torch.manual_seed(1)
        loss = model(x, labels=y).loss
        loss.backward()
        return loss, [p.grad.clone() for p in model.parameters()]

    plain = run()
    assert set(head_dims) == {10}
    head_dims.clear()
    monkeypatch.setattr(modeling_swinir, "fused_sdpa_padding", lambda d, device: -d % 8)
    padded = run()
    assert set(head_dims) == {16}
    torch.testing.assert_close(padded[0], plain[0])
    for a, b in zip(padded[1], plain[1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_an_export_with_gradients_enabled_takes_the_explicit_attention_and_compiled_training_sdpa(tiny_config):
    """ONNX's exporter (`torch.onnx.export(dynamo=True)`, a plain call: gradients enabled) failed decomposing the
    training path's SDPA output; an export takes the explicit matmuls, while compiled training keeps SDPA."""
    model = SwinIRForImageRestoration(tiny_config(upscale=2)).eval()

    def attention_ops(graph: torch.fx.Graph) -> set[str]:
        ops = {str(n.target) for n in graph.nodes if n.op == "call_function"}
        return {op for op in ops if "scaled_dot_product" in op or "matmul" in op or "bmm" in op}

    exported = torch.export.export(model, (torch.rand(2, 3, 10, 14),))
    assert attention_ops(exported.graph) and not any("scaled_dot_product" in op for op in attention_ops(exported.graph))
    graphs = []

    def keep_graph(gm, inputs):
        graphs.append(gm.graph)
        return gm.forward

    model.train()
    torch.compile(model, backend=keep_graph, fullgraph=True)(torch.rand(2, 3, 8, 8)).reconstruction.sum().backward()
    assert any("scaled_dot_product" in op for op in attention_ops(graphs[0]))


def test_one_exported_program_serves_every_input_size(tiny_config):
    """Exported with dynamic batch, height and width, the program restores other sizes than the one it was traced
    at, window multiples or not (each size's guards refused it before). `torch.compile(dynamic=True)`'s one graph
    for every size: tests/test_compile.py."""
    model = SwinIRForImageRestoration(tiny_config(upscale=2)).eval()
    dims = {0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}
    sizes = [(1, 3, 8, 12), (3, 3, 13, 9), (1, 3, 16, 16), (1, 3, 5, 30)]
    exported = torch.export.export(model, (torch.rand(2, 3, 10, 14),), dynamic_shapes=({**dims},)).module()
    with torch.no_grad():
        for size in sizes:
            x = torch.rand(size)
            expected = model(x).reconstruction
            assert expected.shape == (*size[:2], 2 * size[2], 2 * size[3])
            torch.testing.assert_close(exported(x)["reconstruction"], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("upsampler", UPSAMPLERS)
def test_a_forward_on_meta_tensors_counts_what_one_on_the_cpu_computes(tiny_config, upsampler):
    """Shape and FLOP counting without memory (a model and an input on the "meta" device, as FlopCounterMode or
    accelerate's size estimates run them): inference gives the CPU's output shape, and a training step the CPU's
    FLOPs (CPU inference may take other attention kernels than SDPA). It asked autocast about the "meta" device,
    which autocast has no kind for."""
    from torch.utils.flop_counter import FlopCounterMode

    config = tiny_config(upsampler=upsampler, upscale=1 if upsampler is None else 2)
    s = config.upscale
    counted = {}
    for device in ("cpu", "meta"):
        with torch.device(device):
            model = SwinIRForImageRestoration(config).eval()
            x, y = torch.rand(2, 3, 13, 18), torch.rand(2, 3, 8 * s, 8 * s)
        with torch.no_grad():
            assert model(pixel_values=x).reconstruction.shape == (2, 3, 13 * s, 18 * s)
        model.train()
        with FlopCounterMode(display=False) as flops:
            loss = model(pixel_values=x[..., :8, :8], labels=y).loss
            loss.backward()
        assert loss.shape == () and loss.device.type == device
        counted[device] = flops.get_total_flops()
    assert counted["meta"] == counted["cpu"] > 0
