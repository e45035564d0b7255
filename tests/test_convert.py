"""Checkpoint import: wrappers, formats, the convert CLI, and errors that name the problem."""

from __future__ import annotations

import pickle
import re
import warnings

import pytest
import torch
from safetensors.torch import load_file, save_file

from swinir_hf import CheckpointError, SwinIRForImageRestoration, convert_original_checkpoint
from swinir_hf.checkpoints.convert import extract_state_dict
from swinir_hf.cli import main


@pytest.fixture(scope="module")
def authors_state(shared):
    path = shared / "fixtures/official_parity/lightweight_sr_x2.pth"
    return path, torch.load(path, weights_only=True)["params"]


def _same(a: SwinIRForImageRestoration, b: SwinIRForImageRestoration) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_wrappers_and_formats_load_the_same_weights(authors_state, tmp_path):
    path, state = authors_state
    reference = convert_original_checkpoint(path)
    module_prefixed = {f"module.{k}": v for k, v in state.items()}
    assert _same(reference, convert_original_checkpoint(module_prefixed))
    assert _same(reference, convert_original_checkpoint({"params_ema": state, "params": {}}))
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "w.safetensors")
    assert _same(reference, convert_original_checkpoint(tmp_path / "w.safetensors"))


def test_converting_leaves_a_seeded_scripts_random_numbers_alone(authors_state):
    """The model was built with random initial weights, all then replaced: they used up the global generator's
    numbers, so a seeded script drew others after loading an authors' file (a `save_pretrained` folder does not)."""
    torch.manual_seed(0)
    expected = torch.rand(4)
    torch.manual_seed(0)
    convert_original_checkpoint(authors_state[0])
    assert torch.equal(torch.rand(4), expected)


def test_params_ema_is_preferred_and_weights_key_selects():
    a, b = {"x": torch.zeros(1)}, {"x": torch.ones(1)}
    assert extract_state_dict({"params": a, "params_ema": b})["x"].item() == 1
    assert extract_state_dict({"params": a, "params_ema": b}, weights_key="params")["x"].item() == 0
    with pytest.raises(CheckpointError, match="no 'g_ema' entry"):
        extract_state_dict({"params": a}, weights_key="g_ema")
    with pytest.raises(CheckpointError, match="^checkpoint entry 'epoch' holds an int, not a state dict$"):
        extract_state_dict({"params": a, "epoch": 3}, weights_key="epoch")
    # Weights under a key of another trainer's: the message says which key to pass (it said "a OrderedDict").
    with pytest.raises(CheckpointError) as err:
        extract_state_dict({"epoch": 3, "generator": a})
    assert str(err.value) == (
        "the checkpoint holds its weights neither at the top level nor under params_ema, params, state_dict, model: "
        "if 'generator' holds them, pass --weights-key generator (weights_key='generator')"
    )
    assert extract_state_dict({"epoch": 3, "generator": a}, weights_key="generator")["x"].item() == 0


def test_derived_buffers_are_checked(authors_state):
    _, state = authors_state
    key = next(k for k in state if k.endswith("attn_mask"))
    tampered = dict(state, **{key: torch.zeros_like(state[key])})
    with pytest.raises(CheckpointError, match="differs from the shift mask of a 32² patch"):
        convert_original_checkpoint(tampered)
    # the relative-position index: another layout's bias table would be read in another order
    key = next(k for k in state if k.endswith("relative_position_index"))
    transposed = state[key].reshape(8, 8, 8, 8).transpose(0, 1).transpose(2, 3).reshape(state[key].shape)
    with pytest.raises(CheckpointError, match=rf"^{re.escape(key)} differs from the standard relative-position index"):
        convert_original_checkpoint(dict(state, **{key: transposed}))


def test_a_misspelt_override_or_a_wrong_argument_is_a_type_error(authors_state):
    """`img_rnge=1.0` was kept as an extra config attribute and the detected img_range used; bytes, numbers and None
    failed inside with "'bytes' object has no attribute 'get'"."""
    _, state = authors_state
    with pytest.raises(TypeError, match=r"^img_rnge is not a SwinIRConfig field$"):
        convert_original_checkpoint(state, img_rnge=255.0)
    assert convert_original_checkpoint(state, img_range=255.0).config.img_range == 255.0
    for wrong in (b"abc", 123, None):
        with pytest.raises(TypeError, match=r"^checkpoint must be a file path or a state dict, got "):
            convert_original_checkpoint(wrong)


def test_a_checkpoint_spelled_as_typed_is_named_once(tmp_path, monkeypatch):
    """`convert ./missing.pth`: the file's own messages name it as a Path does (missing.pth), which the check for a
    message naming it already compared with the spelling given, so the name was put before it a second time."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.pth").write_text("hello")
    for given, named in (("./missing.pth", "checkpoint missing.pth does not"), ("./notes.pth", "notes.pth is not")):
        with pytest.raises(CheckpointError) as caught:
            convert_original_checkpoint(given)
        assert str(caught.value).startswith(named)


def test_not_a_swinir_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not a SwinIR checkpoint: missing 'conv_first.weight'"):
        convert_original_checkpoint({"fc.weight": torch.zeros(2, 2)})
    real_esrgan = {"conv_first.weight": torch.zeros(64, 3, 3, 3), "body.0.rdb1.conv1.weight": torch.zeros(32, 64, 3, 3)}
    with pytest.raises(CheckpointError, match=r"; its keys are an RRDBNet's \(ESRGAN / Real-ESRGAN\), not SwinIR's"):
        convert_original_checkpoint(real_esrgan)  # the upscaler people keep beside SwinIR: said what it is
    with pytest.raises(CheckpointError, match="^entry 'epoch' holds an int, not a tensor"):
        convert_original_checkpoint({"epoch": 3})
    torch.save({"epoch": 3}, tmp_path / "epoch.pth")  # read from a file: the message names it
    with pytest.raises(CheckpointError, match=f"^{re.escape(str(tmp_path / 'epoch.pth'))}: entry 'epoch' holds an int"):
        convert_original_checkpoint(tmp_path / "epoch.pth")
    (tmp_path / "a.pth").write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        convert_original_checkpoint(tmp_path / "a.pth")
    with pytest.raises(CheckpointError, match="does not exist"):
        convert_original_checkpoint(tmp_path / "missing.pth")
    # A model folder (`convert tiny out`): it was said not to exist
    (tmp_path / "model").mkdir()
    with pytest.raises(CheckpointError, match=r"model is a folder: give a \.pth / \.safetensors file of the authors'"):
        convert_original_checkpoint(tmp_path / "model")
    # A plain pickle: torch's "Unsupported operand 149", after its warning about the protocol, said what it is
    with (tmp_path / "plain.pth").open("wb") as file:
        pickle.dump({"params": [1, 2]}, file, protocol=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CheckpointError, match=r"plain.pth is not a readable PyTorch checkpoint: it is a pickle "):
            convert_original_checkpoint(tmp_path / "plain.pth")
    # and a SwinIR misfit read from a file names the file (which of several --model it was)
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "esrgan.pth")
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(tmp_path / 'esrgan.pth'))}: not a SwinIR checkpoint"):
        convert_original_checkpoint(tmp_path / "esrgan.pth")


class _RunsCode:
    """Unpickling this runs `os.system` (what a malicious checkpoint holds)."""

    def __reduce__(self):
        import os

        return (os.system, ("echo ran",))


def test_a_pickle_that_would_run_code_is_named_and_not_run(tmp_path):
    """torch 2.13 words the refusal of a module-level function ("unsupported GLOBAL posix.system whose module ... is
    blocked") otherwise than of a class: both are named in the one line, without torch's advice to unpickle fully."""
    from swinir_hf.checkpoints.convert import load_state_dict_file

    torch.save({"params": {"w": torch.zeros(1)}, "x": _RunsCode()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError) as err:
        load_state_dict_file(tmp_path / "evil.pth")
    assert str(err.value).startswith(f"{tmp_path / 'evil.pth'} holds Python objects other than tensors (posix.system")


def test_files_needing_unsafe_unpickling_are_named_in_one_line(authors_state, tmp_path):
    """A checkpoint that also pickles other objects (training arguments, numpy scalars) is refused without running
    its pickle, with one line that says why and how to re-save it, not torch's multi-paragraph message."""
    import argparse

    _, state = authors_state
    torch.save({"params": state, "args": argparse.Namespace(lr=2e-4)}, tmp_path / "train.pth")
    with pytest.raises(CheckpointError) as err:
        convert_original_checkpoint(tmp_path / "train.pth")
    assert str(err.value) == (
        f"{tmp_path / 'train.pth'} holds Python objects other than tensors (argparse.Namespace), which are not "
        "unpickled because that could run code; if you trust the file, re-save its weights alone: "
        "obj = torch.load(file, weights_only=False); torch.save(obj.state_dict() if isinstance(obj, "
        "torch.nn.Module) else obj['params'], 'weights.pth')"
    )
    torch.save(torch.nn.Conv2d(3, 4, 3), tmp_path / "module.pth")  # a whole module: the same advice covers it
    with pytest.raises(CheckpointError, match=r"\(torch\.nn\.modules\.conv\.Conv2d\).*obj\.state_dict\(\)"):
        convert_original_checkpoint(tmp_path / "module.pth")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"not a checkpoint\): empty file$"):
        convert_original_checkpoint(tmp_path / "empty.pth")
    (tmp_path / "notes.pth").write_text("hello world, not weights")  # the unpickler's bare KeyError: 104
    with pytest.raises(CheckpointError) as err:
        convert_original_checkpoint(tmp_path / "notes.pth")
    assert str(err.value) == (
        f"{tmp_path / 'notes.pth'} is not a readable PyTorch checkpoint: it is a text file, not a file torch.save "
        "writes"
    )
    # Said in words, not quoted: the demo says it to remote users of paths on its server, not theirs to read.
    for content, kind in (
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "a PNG image"),
        (b"\n<!DOCTYPE html>", "an HTML / XML page"),
    ):
        (tmp_path / "download.pth").write_bytes(content)
        with pytest.raises(
            CheckpointError, match=re.escape(f"download.pth is not a readable PyTorch checkpoint: it is {kind}")
        ):
            convert_original_checkpoint(tmp_path / "download.pth")


def test_truncated_files_are_reported(authors_state, tmp_path):
    path, _ = authors_state
    data = path.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated") as err:
        convert_original_checkpoint(tmp_path / "cut.pth")
    assert str(err.value).endswith("failed finding central directory")  # without miniz's advice on its own bugs
    save_file({"conv_first.weight": torch.zeros(4, 3, 3, 3)}, tmp_path / "w.safetensors")
    blob = (tmp_path / "w.safetensors").read_bytes()
    (tmp_path / "w.safetensors").write_bytes(blob[:-20])
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        convert_original_checkpoint(tmp_path / "w.safetensors")


def test_state_dicts_that_do_not_fit_name_every_problem(authors_state):
    _, state = authors_state
    missing = {k: v for k, v in state.items() if k != "norm.weight"}
    with pytest.raises(CheckpointError, match=r"^incomplete checkpoint: missing norm.weight \(its bias is there\)$"):
        convert_original_checkpoint(missing)
    # A head's key cut: it was taken for another head, and the message listed that head's misfits, not the key.
    cut = next(k for k in state if k.endswith(".weight") and k.startswith(("conv_before_upsample", "upsample")))
    with pytest.raises(CheckpointError, match=f"^incomplete checkpoint: missing {re.escape(cut)} "):
        convert_original_checkpoint({k: v for k, v in state.items() if k != cut})
    unpaired = {k: v for k, v in state.items() if k not in ("norm.weight", "norm.bias")}
    with pytest.raises(CheckpointError, match="missing keys: norm.bias, norm.weight"):
        convert_original_checkpoint(unpaired)
    extra = dict(state, **{"head.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="unexpected keys: head.weight"):
        convert_original_checkpoint(extra)
    wrong = dict(state, **{"norm.bias": torch.zeros(7)})
    with pytest.raises(CheckpointError, match=r"norm.bias: checkpoint \(7,\) vs model \(24,\)"):
        convert_original_checkpoint(wrong)


def test_convert_cli_writes_a_loadable_folder_and_never_overwrites(authors_state, tmp_path, capsys):
    path, _ = authors_state
    out = tmp_path / "model"
    assert main(["convert", str(path), str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"config.json", "model.safetensors", "preprocessor_config.json"}
    # the weights are as readable as the rest (safetensors alone creates them 0600)
    assert (out / "model.safetensors").stat().st_mode & 0o777 == (out / "config.json").stat().st_mode & 0o777
    assert _same(convert_original_checkpoint(path), SwinIRForImageRestoration.from_pretrained(out))
    assert SwinIRForImageRestoration.from_pretrained(out).config.img_range == 1.0
    assert main(["convert", str(path), str(tmp_path / "255"), "--img-range", "255"]) == 0  # not stored in the file
    assert SwinIRForImageRestoration.from_pretrained(tmp_path / "255").config.img_range == 255.0
    before = (out / "model.safetensors").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["convert", str(path), str(out)]) == 1
    assert capsys.readouterr().err == f"error: {out} exists and is not empty; pass --overwrite to replace its files\n"
    assert (out / "model.safetensors").stat().st_mtime_ns == before
    (tmp_path / "file").write_text("mine")
    for target in ("file", "file/sub"):
        assert main(["convert", str(path), str(tmp_path / target)]) == 1
        assert "is not a folder" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "mine"
    # A checkpoint inside the output folder (or a folder above): --overwrite replaced the file being converted, or
    # saved the model beside it (a .pth: not a file the save replaces; it was said to be replaced).
    inside = tmp_path / "work" / "model.pth"
    inside.parent.mkdir()
    inside.write_bytes(path.read_bytes())
    for target in (inside.parent, tmp_path):
        assert main(["convert", str(inside), str(target), "--overwrite"]) == 1
        message = f"error: {target} holds the checkpoint {inside}, beside which the model would be saved: choose "
        assert capsys.readouterr().err == message + "another output folder\n"
    assert inside.read_bytes() == path.read_bytes()
    weights = inside.parent / "model.safetensors"  # the authors' weights as safetensors: a save's own file name
    save_file(authors_state[1], weights)
    assert main(["convert", str(weights), str(inside.parent), "--overwrite"]) == 1
    assert capsys.readouterr().err == (
        f"error: {inside.parent} holds the checkpoint {weights}, which the converted model would replace: choose "
        "another output folder\n"
    )
    (tmp_path / "bad.pth").write_bytes(b"\0" * 10)
    assert main(["convert", str(tmp_path / "bad.pth"), str(tmp_path / "other")]) == 1
    assert "not a readable PyTorch checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_half_precision_copy_converts_in_its_own_precision(authors_state, tmp_path, dtype):
    """A float16 / bfloat16 copy of a release converts value for value into a folder of that precision (it was
    stored in float32, twice the size), whose config.json still loads float32; the Python API's default stays
    float32, `dtype="auto"` keeps the file's, as `from_pretrained`'s."""
    _, state = authors_state
    torch.save(
        {"params": {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}}, tmp_path / "h.pth"
    )
    assert main(["convert", str(tmp_path / "h.pth"), str(tmp_path / "model")]) == 0
    saved = load_file(tmp_path / "model" / "model.safetensors")
    kept = tuple(SwinIRForImageRestoration._keep_in_fp32_modules) if dtype == torch.float16 else ()
    assert {v.dtype for k, v in saved.items() if not k.startswith(kept)} == {dtype}
    assert {v.dtype for k, v in saved.items() if k.startswith(kept)} <= {torch.float32}  # float16's edges
    assert all(torch.equal(saved[k], v.to(dtype).to(saved[k].dtype)) for k, v in state.items() if k in saved)
    assert SwinIRForImageRestoration.from_pretrained(tmp_path / "model").dtype == torch.float32
    assert convert_original_checkpoint(tmp_path / "h.pth").dtype == torch.float32
    auto = convert_original_checkpoint(tmp_path / "h.pth", dtype="auto")
    loaded = SwinIRForImageRestoration.from_pretrained(tmp_path / "model", dtype=dtype)
    # each tensor in from_pretrained's dtype: float16's overflow-prone edges (conv_first, ...) kept float32
    assert {k: v.dtype for k, v in auto.state_dict().items()} == {k: v.dtype for k, v in loaded.state_dict().items()}
    assert auto.dtype == dtype and (auto.conv_first.weight.dtype == torch.float32) == (dtype == torch.float16)
    with pytest.raises(TypeError, match=r"^dtype must be a torch floating dtype \(torch.float16\) or 'auto', got "):
        convert_original_checkpoint(tmp_path / "h.pth", dtype="float16")
    mixed = {k: v.half() if k.startswith("conv_first") else v for k, v in state.items()}
    assert convert_original_checkpoint(mixed, dtype="auto").dtype == torch.float32


def test_auto_dtype_is_the_bodys_as_a_models_dtype_is(authors_state, tmp_path):
    """`dtype="auto"` takes a file's precision, as `from_pretrained`'s takes a folder's. The float16 weights `convert`
    writes keep float32 edges (the modules float16 overflows in), which sort first (`conv_after_body`):
    transformers' rule for a file without config, its first floating tensor's dtype, would make a float32 model of
    them, and a mix made one. The body's dtype counts, as for a model's `dtype`: each tensor converts value for
    value. A body stored in several dtypes has no one precision: float32, which holds each of them."""
    _, state = authors_state
    torch.save({"params": {k: v.half() if v.is_floating_point() else v for k, v in state.items()}}, tmp_path / "h.pth")
    assert main(["convert", str(tmp_path / "h.pth"), str(tmp_path / "half")]) == 0
    weights = load_file(tmp_path / "half" / "model.safetensors")
    assert next(v.dtype for k, v in sorted(weights.items()) if v.is_floating_point()) == torch.float32
    model = convert_original_checkpoint(tmp_path / "half" / "model.safetensors", dtype="auto")
    assert model.dtype == torch.float16 and model.conv_first.weight.dtype == torch.float32
    assert all(torch.equal(v, weights[k]) and v.dtype == weights[k].dtype for k, v in model.state_dict().items())
    body = {k: v.bfloat16() if k.startswith("layers.1.") and v.is_floating_point() else v for k, v in weights.items()}
    assert convert_original_checkpoint(body, dtype="auto").dtype == torch.float32


def test_convert_cli_counts_a_greyscale_models_channel_in_the_singular(shared, tmp_path, capsys):
    assert main(["convert", str(shared / "fixtures/official_parity/gray_dn.pth"), str(tmp_path / "grey")]) == 0
    assert ", x1, 1 channel, embed_dim " in capsys.readouterr().out
    assert main(["convert", str(shared / "fixtures/official_parity/color_dn.pth"), str(tmp_path / "colour")]) == 0
    assert ", x1, 3 channels, embed_dim " in capsys.readouterr().out


def test_a_long_list_of_misfits_shows_eight_and_counts_the_rest(authors_state):
    """Eight keys are named; from the ninth on the message says how many more there are, none dropped silently."""
    _, state = authors_state
    for extra, shown in ((8, ""), (9, " (+1 more)"), (12, " (+4 more)")):
        keys = [f"extra{i:02d}" for i in range(extra)]
        with pytest.raises(CheckpointError) as err:
            convert_original_checkpoint(dict(state, **{k: torch.zeros(1) for k in keys}))
        assert str(err.value).endswith(f"unexpected keys: {', '.join(keys[:8])}{shown}")


def test_an_authors_checkpoint_without_qkv_bias_converts_without_it(authors_state):
    """A checkpoint trained with qkv_bias=False (no `attn.qkv.bias` keys) converts to a model without those biases,
    which restores as the same weights with zero biases do; biases in only some layers are named as misfits."""
    _, state = authors_state
    without = {k: v for k, v in state.items() if not k.endswith(".attn.qkv.bias")}
    zeroed = {k: torch.zeros_like(v) if k.endswith(".attn.qkv.bias") else v for k, v in state.items()}
    model, reference = convert_original_checkpoint(without), convert_original_checkpoint(zeroed)
    assert (model.config.qkv_bias, reference.config.qkv_bias) == (False, True)
    assert set(reference.state_dict()) - set(model.state_dict()) == set(state) - set(without) != set()
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        torch.testing.assert_close(model(x).reconstruction, reference(x).reconstruction, rtol=0, atol=1e-6)
    stray = "layers.0.residual_group.blocks.1.attn.qkv.bias"
    with pytest.raises(CheckpointError, match=f"; unexpected keys: {re.escape(stray)}$"):
        convert_original_checkpoint({**without, stray: state[stray]})


def _swin2sr(state: dict) -> dict:
    """A Swin2SR state dict of the Swin2SR repository's layout: SwinIR's, with SwinV2 attention in each block."""
    out = {}
    for key, value in state.items():
        if key.endswith(".attn.relative_position_bias_table"):
            attn = key.removesuffix(".relative_position_bias_table")
            out |= {f"{attn}.logit_scale": torch.zeros(2, 1, 1), f"{attn}.cpb_mlp.0.weight": torch.zeros(512, 2)}
        elif not key.endswith((".attn.relative_position_index", ".attn.qkv.bias")):
            out[key] = value
    return out


def test_a_hat_or_swin2sr_checkpoint_is_named_as_such(authors_state, tmp_path, capsys):
    """HAT's and Swin2SR's files share most of SwinIR's keys: they were refused as damaged SwinIR files (`missing
    '...relative_position_bias_table'`, or eight unexpected keys), not said to be another architecture's."""
    path, state = authors_state
    hat = dict(state, relative_position_index_SA=torch.zeros(256, 256, dtype=torch.long))
    hat["layers.0.residual_group.overlap_attn.qkv.weight"] = torch.zeros(72, 24)
    cases = {
        "HAT_SRx4.pth": (hat, "'relative_position_index_SA'); its keys are a HAT's"),
        "Swin2SR_x4.pth": (
            _swin2sr(state),
            "'layers.0.residual_group.blocks.0.attn.logit_scale'); its keys are a Swin2SR's",
        ),
        "hf.pth": (
            {"swin2sr.embeddings.conv.weight": torch.zeros(1)},
            "'swin2sr.embeddings.conv.weight'); its keys are a Swin2SR's",
        ),
    }
    for name, (weights, said) in cases.items():
        torch.save({"params_ema": weights}, tmp_path / name)
        assert main(["convert", str(tmp_path / name), str(tmp_path / "out")]) == 1
        expected = f"error: {tmp_path / name}: not a SwinIR checkpoint (it has {said}, not SwinIR's: run it with that "
        assert capsys.readouterr().err == expected + "project's code\n"
    assert not (tmp_path / "out").exists()


def test_a_pth_that_unpacks_to_far_more_than_it_holds_is_refused_unread(authors_state, tmp_path, zip_bomb):
    """A `.pth` whose zip entries were deflated was unpacked whole by torch.load: 0.6 MB of zeros took 1.5 GB, and
    one of a few MB could take all the machine has. torch.save's own file (stored entries) still loads."""
    path, state = authors_state
    assert _same(convert_original_checkpoint(path), convert_original_checkpoint(path))  # under the lifted floor
    declared, size = zip_bomb({"params": state}, tmp_path / "bomb.pth")
    with pytest.raises(CheckpointError) as err:
        convert_original_checkpoint(tmp_path / "bomb.pth")
    assert str(err.value) == (
        f"{tmp_path / 'bomb.pth'} is not a readable PyTorch checkpoint: its compressed entries unpack to "
        f"{declared:,} bytes from a file of {size:,} (torch.save writes them uncompressed): a decompression bomb, "
        "not loaded"
    )


def test_a_safetensors_file_named_pth_converts_and_a_zip_that_is_not_torchs_is_named(authors_state, tmp_path):
    """A safetensors copy renamed `.pth` was `not a readable PyTorch checkpoint: it is another kind of file`, and a zip
    archive (a download that packs the checkpoint) gave torch's `[enforce fail at inline_container.cc:180] ...`."""
    import zipfile

    path, state = authors_state
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "renamed.pth")
    assert _same(convert_original_checkpoint(path), convert_original_checkpoint(tmp_path / "renamed.pth"))
    with zipfile.ZipFile(tmp_path / "download.pth", "w") as archive:
        archive.writestr("readme.txt", "weights inside")
        archive.writestr("001_classicalSR_DF2K_s64w8_SwinIR-M_x4.pth", b"")
    with pytest.raises(CheckpointError) as err:
        convert_original_checkpoint(tmp_path / "download.pth")
    assert str(err.value) == (
        f"{tmp_path / 'download.pth'} is not a readable PyTorch checkpoint: it is a zip archive, not one torch.save "
        "writes (it holds no data.pkl): unpack it and give its 001_classicalSR_DF2K_s64w8_SwinIR-M_x4.pth"
    )
