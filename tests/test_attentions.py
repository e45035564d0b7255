"""`output_attentions` as transformers 5's own vision models (ViT, DINOv2) take it: a config asking for attentions
before an attention implementation is chosen gives the eager one, a forward call asking for them under SDPA is
warned of, and `set_attn_implementation("eager")` switches; an explicit SDPA config with them is refused."""

from __future__ import annotations

import copy
import logging

import pytest
import torch

from swinir_hf import SwinIRForImageRestoration
from swinir_hf.models.modeling_swinir import SDPA_ATTENTIONS_WARNING

REFUSED = (
    'output_attentions=True needs attn_implementation="eager", not "sdpa" (which computes no attention probabilities): '
    'pass attn_implementation="eager" (model.set_attn_implementation("eager") for a built model), or '
    "output_attentions=True to the forward calls instead"
)


def eager_twin(model: SwinIRForImageRestoration) -> SwinIRForImageRestoration:
    twin = copy.deepcopy(model)
    twin.set_attn_implementation("eager")
    return twin


def test_a_config_asking_for_attentions_builds_an_eager_model(tiny_config):
    """`SwinIRConfig(output_attentions=True)` gives the eager attention, as `from_pretrained(...,
    output_attentions=True)` and transformers' `config.output_attentions = True` do (it built an SDPA model whose
    forward raised)."""
    config = tiny_config(depths=[2], num_heads=[2], output_attentions=True)
    assert config._attn_implementation == "eager"
    model = SwinIRForImageRestoration(config).eval()
    assert model.config._attn_implementation == "eager"
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        out = model(x)
    assert [tuple(a.shape) for a in out.attentions] == [(4, 2, 16, 16)] * 2
    assert tiny_config()._attn_implementation is None  # unasked, the model takes its default, SDPA


def test_attentions_with_an_explicit_sdpa_config_are_refused_saying_what_to_do(tiny_config, tmp_path):
    """Where transformers raises (an SDPA config asking for attentions), so does SwinIR, saying what to do."""
    with pytest.raises(Exception) as err:
        tiny_config(output_attentions=True, attn_implementation="sdpa")
    assert REFUSED in str(err.value)
    model = SwinIRForImageRestoration(tiny_config())
    with pytest.raises(ValueError) as err:
        model.config.output_attentions = True
    assert str(err.value) == REFUSED
    assert model.config.output_attentions is False and model.config._attn_implementation == "sdpa"
    model.save_pretrained(tmp_path)
    with pytest.raises(Exception) as err:
        SwinIRForImageRestoration.from_pretrained(tmp_path, output_attentions=True, attn_implementation="sdpa")
    assert REFUSED in str(err.value)
    loaded = SwinIRForImageRestoration.from_pretrained(tmp_path, output_attentions=True)
    assert loaded.config._attn_implementation == "eager"


def test_attentions_under_sdpa_are_warned_of_once_and_are_the_eager_ones(tiny_config, caplog):
    """`model(x, output_attentions=True)` under SDPA warns, as transformers' models do, once per model, and returns
    the eager attention's probabilities and reconstruction (it was a ValueError); `set_attn_implementation("eager")`
    then gives the same without a warning."""
    model = SwinIRForImageRestoration(tiny_config(depths=[2, 2], num_heads=[2, 2])).eval()
    eager = eager_twin(model)
    x = torch.rand(2, 3, 10, 7)
    with torch.no_grad():
        expected = eager(x, output_attentions=True)
        sdpa_plain = model(x).reconstruction
        with caplog.at_level(logging.WARNING, logger="swinir_hf"):
            first = model(x, output_attentions=True, output_hidden_states=True)
            second = model(x, output_attentions=True)
    assert caplog.messages == [SDPA_ATTENTIONS_WARNING]
    assert model.config._attn_implementation == "sdpa"  # the model's own attention is unchanged
    torch.testing.assert_close(sdpa_plain, expected.reconstruction)
    for out in (first, second):
        assert torch.equal(out.reconstruction, expected.reconstruction)
        assert len(out.attentions) == 4 and all(map(torch.equal, out.attentions, expected.attentions))
    assert list(first.keys()) == ["reconstruction", "hidden_states", "attentions"]
    caplog.clear()
    model.set_attn_implementation("eager")
    with torch.no_grad(), caplog.at_level(logging.WARNING, logger="swinir_hf"):
        switched = model(x, output_attentions=True)
    assert caplog.messages == [] and model.config._attn_implementation == "eager"
    assert all(map(torch.equal, switched.attentions, expected.attentions))


def test_attentions_are_the_window_softmax_probabilities(tiny_config):
    """`output_attentions` gives each Swin layer's attention probabilities, (N·windows, heads, ws², ws²): rows
    summing to 1, zero where the shift mask keeps rolled-together regions apart."""
    model = SwinIRForImageRestoration(tiny_config(depths=[2, 2], num_heads=[2, 2], output_attentions=True)).eval()
    x = torch.rand(2, 3, 10, 7)
    with torch.no_grad():
        plain = model(x, output_attentions=False).reconstruction
        out = model(x, output_hidden_states=True)
    assert torch.equal(out.reconstruction, plain)
    assert [tuple(a.shape) for a in out.attentions] == [(2 * 6, 2, 16, 16)] * 4  # 3 × 2 windows per image
    for probs in out.attentions:
        torch.testing.assert_close(probs.sum(-1), torch.ones(12, 2, 16))
    # The shifted layers' border windows hold tokens of regions rolled together, which the mask keeps apart.
    mask = model.shift_mask(12, 8, x.device)
    masked = (mask != 0).unsqueeze(1).expand(-1, 2, -1, -1)
    for shifted in out.attentions[1::2]:
        assert masked.any() and shifted[:6][masked].max() < 1e-30 and shifted[:6][~masked].min() > 0
        assert shifted[6:][masked].max() < 1e-30
    assert out.attentions[0][:6][masked].min() > 0  # unshifted: no mask


@pytest.mark.parametrize(
    "name", ["flash_attention_2", "flex_attention", "kernels-community/flash-attn2", "paged|eager", "paged|sdpa"]
)
def test_attentions_swinir_cannot_run_are_refused_saying_which_it_can(tiny_config, tmp_path, name):
    """Flash, flex, Hub-kernel and paged attention are refused in one line naming "sdpa" and "eager", by
    `from_pretrained`, the Auto classes' `from_config` and `set_attn_implementation` alike: transformers asked to
    request support on a Hub page made of the folder's path (https://huggingface.co//tmp/...), and took "paged|eager"
    for a model that then ran SDPA."""
    from transformers import AutoModelForImageToImage

    expected = (
        f'SwinIR cannot use attn_implementation="{name}" (its window attention adds a relative-position bias, which '
        'flash, flex and paged attention do not take): pass "sdpa" (the default) or "eager"'
    )
    model = SwinIRForImageRestoration(tiny_config())
    model.save_pretrained(tmp_path)
    with pytest.raises(ValueError) as err:
        SwinIRForImageRestoration.from_pretrained(tmp_path, attn_implementation=name)
    assert str(err.value) == expected
    with pytest.raises(ValueError) as err:
        AutoModelForImageToImage.from_config(tiny_config(), attn_implementation=name)
    assert str(err.value) == expected
    with pytest.raises(ValueError) as err:
        model.set_attn_implementation(name)
    assert str(err.value) == expected
    assert model.config._attn_implementation == "sdpa"  # unchanged
    model.set_attn_implementation("eager")
    assert model.config._attn_implementation == "eager"
