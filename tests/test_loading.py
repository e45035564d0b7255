"""`load_model`: folders, authors' files, catalogue names, Hub ids — and fast, actionable failures offline."""

from __future__ import annotations

import copy
import importlib
import json
import logging
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

import pytest
import torch
from huggingface_hub import constants
from transformers import AutoModel, AutoModelForImageToImage, PreTrainedModel

from swinir_hf import CheckpointError, IncompatibleWeightsError, SwinIRForImageRestoration
from swinir_hf.checkpoints.catalog import load_catalog
from swinir_hf.checkpoints.loading import ModelNotAvailableError, hub_reachable, load_model, resolve_spec


@pytest.fixture
def saved(tiny_config, tmp_path):
    model = SwinIRForImageRestoration(tiny_config()).eval()
    model.save_pretrained(tmp_path / "tiny")
    return model, tmp_path / "tiny"


@pytest.fixture
def unreachable_hub(monkeypatch, free_port):
    """Point the Hub endpoint at a closed local port: connections are refused at once, nothing leaves the host."""
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def fake_cache(cache, repo_id, folder):
    """Lay `folder` out as a snapshot of `repo_id` in a Hugging Face hub cache."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    (repo / "snapshots").mkdir()
    folder.rename(repo / "snapshots" / ("0" * 40))


def test_loads_a_folder_in_eval_mode(saved):
    model, folder = saved
    loaded = load_model(folder)
    assert not loaded.training
    x = torch.rand(1, 3, 9, 7)
    with torch.no_grad():
        assert torch.equal(loaded(x).reconstruction, model(x).reconstruction)


def test_from_pretrained_kernelizes_only_when_asked(saved, monkeypatch):
    """transformers ≥ 5.25 kernelizes by default, failing without the `kernels` package; SwinIR has no layer with
    Hub kernels, so its loads pass use_kernels=False unless the caller says otherwise."""
    asked, parent = [], PreTrainedModel.from_pretrained.__func__

    def spy(cls, *args, use_kernels=None, **kwargs):
        asked.append(use_kernels)
        return parent(cls, *args, use_kernels=False, **kwargs)  # `kernels` may not be installed

    monkeypatch.setattr(PreTrainedModel, "from_pretrained", classmethod(spy))
    model, folder = saved
    for load in (SwinIRForImageRestoration.from_pretrained, AutoModel.from_pretrained, load_model):
        assert torch.equal(load(folder).conv_first.weight, model.conv_first.weight)
    SwinIRForImageRestoration.from_pretrained(folder, use_kernels=True)
    assert asked == [False, False, False, True]


def test_a_swinir_load_hides_only_its_own_load_report(saved, monkeypatch):
    """The filter that hides transformers' load report during a SwinIR load sat on a process-wide logger: another
    thread's load of another model lost its report meanwhile."""
    loading, reported, shown = threading.Event(), threading.Event(), []
    parent = PreTrainedModel.from_pretrained.__func__

    def slow_load(cls, *args, **kwargs):
        loading.set()
        assert reported.wait(10)
        return parent(cls, *args, **kwargs)

    def other_threads_load():
        assert loading.wait(10)
        log.warning("BertModel LOAD REPORT from: bert\nnewly initialized: classifier.weight")
        reported.set()

    log = logging.getLogger("transformers.modeling_utils")
    handler = logging.Handler()
    handler.emit = lambda record: shown.append(record.getMessage())
    log.addHandler(handler)
    monkeypatch.setattr(PreTrainedModel, "from_pretrained", classmethod(slow_load))
    try:
        with ThreadPoolExecutor(1) as pool:
            other = pool.submit(other_threads_load)
            SwinIRForImageRestoration.from_pretrained(saved[1])
            other.result()
    finally:
        log.removeHandler(handler)
    assert [m.split(" from")[0] for m in shown] == ["BertModel LOAD REPORT"]


def test_loads_a_training_checkpoint_by_its_folder(saved, tmp_path):
    """`--model runs/x/checkpoints/step-N` (restore, eval, --init-from): the model folder the checkpoint holds."""
    model, folder = saved
    checkpoint = tmp_path / "checkpoints" / "step-00000004"
    checkpoint.mkdir(parents=True)
    (checkpoint / "progress.json").write_text('{"step": 4, "history": [], "losses": []}')
    folder.rename(checkpoint / "model")
    x = torch.rand(1, 3, 9, 7)
    with torch.no_grad():
        assert torch.equal(load_model(checkpoint)(x).reconstruction, model(x).reconstruction)


def test_from_pretrained_of_a_weights_file_says_what_it_takes(saved, shared, tmp_path, monkeypatch):
    """An authors' .pth or a folder's model.safetensors given to from_pretrained: transformers said only "the config
    file at 'x.pth' is not a valid JSON file"; the error now says it takes a folder and how to load the .pth."""
    _, folder = saved
    pth = shared / "fixtures" / "official_parity" / "classical_sr_x2.pth"
    upper = tmp_path / "MODEL.PTH"  # a suffix in capitals is one too
    upper.write_bytes(pth.read_bytes())
    for path in (pth, folder / "model.safetensors", upper):
        expected = f"^{re.escape(str(path))} is a weights file, not a model folder: .*load_model"
        with pytest.raises(OSError, match=expected):
            SwinIRForImageRestoration.from_pretrained(path)
    # One that does not exist is not a Hub repo to download nor a bundled model's name, as the Hub path said.
    with pytest.raises(
        OSError, match=r"^\S*absent.pth does not exist \(from_pretrained takes a model folder or a Hub id\)$"
    ):
        SwinIRForImageRestoration.from_pretrained(tmp_path / "absent.pth")
    # Nor is a missing folder's path, which transformers refused as a malformed Hub id ("Repo id must be in the
    # form 'repo_name' or 'namespace/repo_name'").
    for path in (str(tmp_path / "absent"), "./absent", "../absent/run", "runs/absent/step-1"):
        with pytest.raises(OSError, match=rf"^{re.escape(path)} does not exist \(from_pretrained takes a model folder"):
            SwinIRForImageRestoration.from_pretrained(path)
    monkeypatch.setenv("HOME", str(folder.parent))  # `~/...` read as a shell reads it
    assert isinstance(SwinIRForImageRestoration.from_pretrained(f"~/{folder.name}"), SwinIRForImageRestoration)
    assert isinstance(load_model(pth), SwinIRForImageRestoration)  # the way the message names
    model, _ = saved  # with a config, transformers' load of a weights file itself is left alone
    loaded = SwinIRForImageRestoration.from_pretrained(folder / "model.safetensors", config=model.config)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())


def test_local_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="without config.json"):
        load_model(tmp_path / "empty")
    with pytest.raises(CheckpointError, match="missing.pth does not exist$"):
        load_model(tmp_path / "missing.pth")
    release = load_catalog().releases[0]
    with pytest.raises(CheckpointError, match=f"loads by its catalogue name, {release.repo}$"):
        load_model(release.file)

    # What the Hub refuses as a repo id is a local path that does not exist, not a model to look up there (which
    # offline said "hf download my model").
    for spec in ("my model", "a--b", "org/my model", "x/", "./x", "a/b/c"):
        with pytest.raises(CheckpointError, match=f"^{re.escape(spec)} does not exist$"):
            load_model(spec)


def test_resolve_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    org = load_catalog().organization
    assert resolve_spec("swinir-classical-sr-x4-df2k") == f"{org}/swinir-classical-sr-x4-df2k"
    assert resolve_spec("someone/swinir-classical-sr-x4-df2k") == "someone/swinir-classical-sr-x4-df2k"
    assert resolve_spec("org/model") == "org/model"
    # The authors' name for their file, as their release page lists it (was taken as a Hub id: "hf download 001_...")
    assert resolve_spec("001_classicalSR_DF2K_s64w8_SwinIR-M_x4") == f"{org}/swinir-classical-sr-x4-df2k"
    (tmp_path / "swinir-lightweight-sr-x2").mkdir()  # a local folder of that name wins
    assert resolve_spec("swinir-lightweight-sr-x2").resolve() == (tmp_path / "swinir-lightweight-sr-x2").resolve()


def test_unreachable_hub_fails_fast_and_quietly(unreachable_hub, tmp_path, caplog):
    assert not hub_reachable()
    caplog.set_level(logging.WARNING)
    start = time.monotonic()
    with pytest.raises(ModelNotAvailableError) as err:
        load_model("swinir-classical-sr-x4-df2k", cache_dir=tmp_path)
    assert time.monotonic() - start < 10
    message = str(err.value)
    repo_id = f"{load_catalog().organization}/swinir-classical-sr-x4-df2k"
    assert f"model '{repo_id}' is not in the local Hugging Face cache and the Hub cannot be reached" in message
    for advice in (f"hf download {repo_id}", "HF_HUB_OFFLINE=1", "local save_pretrained folder"):
        assert advice in message
    assert "Retrying" not in caplog.text


def test_unreachable_hub_uses_the_cache(unreachable_hub, saved, tmp_path):
    model, folder = saved
    fake_cache(tmp_path / "cache", "org/tiny", folder)
    loaded = load_model("org/tiny", cache_dir=tmp_path / "cache")
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_a_tasks_name_is_not_taken_for_a_model(monkeypatch, tmp_path):
    """`--model classical_sr` (the authors' --task) was looked up on the Hub, offline advising `hf download
    classical_sr`."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    for task in ("classical_sr", "color_jpeg_car"):
        with pytest.raises(ModelNotAvailableError, match=f"^'{task}' is a task, not a model: `swinir-hf models` lists"):
            load_model(task, cache_dir=tmp_path)


def test_offline_mode_names_it(monkeypatch, tmp_path):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelNotAvailableError, match="not in the local Hugging Face cache and HF_HUB_OFFLINE is set"):
        load_model("org/absent", cache_dir=tmp_path)
    # It is set already: the advice is to unset it where the Hub can be reached, not to run with it.
    with pytest.raises(ModelNotAvailableError) as err:
        load_model("org/absent", cache_dir=tmp_path)
    assert (
        "copy the cache (~/.cache/huggingface/hub, or the folder HF_HOME / HF_HUB_CACHE points to) here; or unset "
        "HF_HUB_OFFLINE if this machine can reach the Hub; or pass a local save_pretrained folder or the authors' "
        ".pth file instead of a repo id."
    ) in str(err.value)
    assert "HF_HUB_OFFLINE=1" not in str(err.value)


def test_the_error_load_model_raises_for_an_unavailable_hub_model_is_a_public_name(monkeypatch, tmp_path):
    """`load_model`'s docstring and docs/hub.md name `ModelNotAvailableError`: it is caught as `swinir_hf.NAME`, as the
    other errors of the public calls are (an `OSError` too)."""
    import swinir_hf

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(swinir_hf.ModelNotAvailableError, match="^model 'org/absent' is not in the local"):
        swinir_hf.load_model("org/absent", cache_dir=tmp_path)
    assert swinir_hf.ModelNotAvailableError is ModelNotAvailableError and issubclass(ModelNotAvailableError, OSError)
    assert "ModelNotAvailableError" in swinir_hf.__all__


def test_from_pretrained_of_an_uncached_hub_id_offline_says_what_to_do(monkeypatch, tmp_path):
    # transformers said only "We couldn't connect to 'https://huggingface.co' ... Check your internet connection".
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    for options in ({}, {"output_loading_info": True}):  # the strict load and transformers' lenient one
        with pytest.raises(OSError) as err:
            SwinIRForImageRestoration.from_pretrained("org/absent", cache_dir=tmp_path, **options)
        assert str(err.value) == (
            "org/absent is not in the Hugging Face cache and HF_HUB_OFFLINE is set: download it where there is a "
            "network (hf download org/absent) and copy the cache (HF_HOME) here, or pass the path of a local model "
            "folder; or unset HF_HUB_OFFLINE if this machine can reach the Hub"  # not "HF_HUB_OFFLINE=1 makes ..."
        )


def test_from_pretrained_of_a_bundled_name_offline_says_how_bundled_models_load(monkeypatch, tmp_path):
    """`from_pretrained("sr-x4")`, as `load_model("sr-x4")` is called: the error only said to `hf download sr-x4`,
    a repo that is not the bundled model; it now says how a bundled one loads, and that way works."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    # The bundled way first: `hf download sr-x4` names no repo of the Hub's (ids are org/name today).
    with pytest.raises(
        OSError,
        match=r"HF_HUB_OFFLINE is set: if 'sr-x4' is a model bundled with swinir_hf .*; if it is "
        r"a Hub repo, download it where there is a network \(hf download sr-x4\)",
    ) as err:
        SwinIRForImageRestoration.from_pretrained("sr-x4", cache_dir=tmp_path)
    advice = re.search(r"or (from_pretrained\(swinir_hf[^)]*\))", str(err.value)).group(1)
    namespace = {"cls": SwinIRForImageRestoration, "swinir_hf": sys.modules["swinir_hf"]}
    assert isinstance(eval(f"cls.{advice}", namespace), PreTrainedModel)  # noqa: S307 (the message's own code)
    with pytest.raises(OSError) as err:  # a Hub id gets no such hint
        SwinIRForImageRestoration.from_pretrained("org/absent", cache_dir=tmp_path)
    assert "bundled" not in str(err.value)


def test_from_pretrained_of_an_uncached_revision_or_subfolder_offline_names_it(monkeypatch, tmp_path, tiny_config):
    """A model cached at main, asked for at another revision (by `from_pretrained` or `load_model`): the advice
    (`hf download org/cached`) fetched main again, which the cache already holds; it names the revision and
    downloads that one. A subfolder the cached repo lacks is named too (the repo itself is cached)."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    repo = tmp_path / "models--org--cached"
    SwinIRForImageRestoration(tiny_config()).save_pretrained(repo / "snapshots" / ("a" * 40), remote_code=False)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    assert SwinIRForImageRestoration.from_pretrained("org/cached", cache_dir=tmp_path, revision="main")
    with pytest.raises(OSError) as err:
        SwinIRForImageRestoration.from_pretrained("org/cached", cache_dir=tmp_path, revision="v2")
    assert str(err.value).startswith(
        "org/cached at revision 'v2' is not in the Hugging Face cache and HF_HUB_OFFLINE is set: download it "
        "where there is a network (hf download org/cached --revision v2) and copy the cache (HF_HOME) here"
    )
    with pytest.raises(OSError) as err:  # a subfolder the cached repo lacks
        SwinIRForImageRestoration.from_pretrained("org/cached", cache_dir=tmp_path, subfolder="x2")
    assert str(err.value).startswith("the subfolder 'x2' of org/cached is not in the Hugging Face cache")
    with pytest.raises(ModelNotAvailableError) as err:
        load_model("org/cached", revision="v2", cache_dir=tmp_path)
    assert str(err.value).startswith(
        "model 'org/cached' at revision 'v2' is not in the local Hugging Face cache and HF_HUB_OFFLINE is set. Either "
        "download it on a machine with internet access (`hf download org/cached --revision v2`)"
    )


def test_a_misspelt_name_gets_the_nearest_one(monkeypatch, tmp_path):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.chdir(tmp_path)
    typos = {
        "sr-x5": "sr-x4",
        "realsr-x4": "real-sr-x4",
        "swinir-clasical-sr-x4-df2k": "swinir-classical-sr-x4-df2k",
        "swinir-classical-sr-x2": "swinir-classical-sr-x2-div2k or swinir-classical-sr-x2-df2k",  # its two releases
        "SR-X4": "sr-x4",  # another case (it got the Hub cache's advice, `hf download SR-X4`)
        "Real-SR-X4": "real-sr-x4",
    }
    for spec, near in typos.items():
        with pytest.raises(ModelNotAvailableError) as err:
            load_model(spec, cache_dir=tmp_path)
        assert str(err.value) == (  # not the Hub cache's advice: `hf download sr-x5` names no repo
            f"no model {spec!r} here: did you mean {near}? (`swinir-hf models` lists the names; a Hub model is named "
            "org/name)"
        )
    with pytest.raises(ModelNotAvailableError) as err:
        load_model("bert-base-uncased", cache_dir=tmp_path)  # far from every name: a Hub id
    assert "did you mean" not in str(err.value)
    with pytest.raises(ModelNotAvailableError, match="swinir-hf/swinir-real-sr-x4-large-gan") as err:
        load_model("swinir-real-sr-x4-large-gan", cache_dir=tmp_path)  # the catalogue name itself, not cached
    assert "did you mean" not in str(err.value)


def test_a_models_name_is_guessed_as_a_commands_choice_is_but_more_strictly():
    """`_near_name` had a difflib guess of its own: a model's name and a command's choice are guessed by one
    `nearest_choice`, stricter for a model's (a wrong guess names another model)."""
    from swinir_hf.checkpoints import loading
    from swinir_hf.option_guesses import nearest_choice

    assert nearest_choice("denoise", ["sr-x4", "denoise-color"]) == "denoise-color"  # 0.7 alike: a slip of a choice
    assert nearest_choice("denoise", ["sr-x4", "denoise-color"], cutoff=0.75) is None  # not of a model's name
    assert nearest_choice("sr-x5", ["sr-x4", "denoise-color"], cutoff=0.75) == "sr-x4"
    assert not hasattr(loading, "difflib")


def test_a_connection_failing_midway_is_a_message_not_a_traceback(monkeypatch, tmp_path):
    """huggingface_hub ≥ 1 lets its HTTP client's errors (httpx / httpx2, not OSErrors) through."""
    import importlib

    from huggingface_hub.utils import get_session

    from swinir_hf.checkpoints import loading

    # The client this huggingface_hub really uses (httpx2 from 2.0), which need not be installed beside httpx.
    client = importlib.import_module(type(get_session()).__module__.split(".")[0])

    monkeypatch.setattr(loading, "hub_reachable", lambda: True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    def drop(*args, **kwargs):
        raise client.ConnectError("connection reset")

    monkeypatch.setattr(SwinIRForImageRestoration, "from_pretrained", drop)
    with pytest.raises(ModelNotAvailableError, match=r"downloading it failed \(connection reset\)"):
        load_model("org/tiny", cache_dir=tmp_path)


def test_models_lists_what_loads_and_marks_what_is_cached(monkeypatch, tmp_path, capsys):
    from swinir_hf.checkpoints.catalog import find_release
    from swinir_hf.checkpoints.loading import DEFAULT_MODELS
    from swinir_hf.cli import main

    release = find_release("swinir-lightweight-sr-x4")
    model = SwinIRForImageRestoration(release.config()).eval()
    model.save_pretrained(tmp_path / "snapshot")
    fake_cache(tmp_path / "cache", release.repo_id(), tmp_path / "snapshot")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name, what in DEFAULT_MODELS.items():
        assert f"  {name} " in out and what in out
    listed = {line.split()[0]: line for line in out.splitlines() if line.startswith("  swinir-")}
    assert set(listed) == {r.repo for r in load_catalog().releases}
    assert [repo for repo, line in listed.items() if line.split()[1] == "*"] == [release.repo]
    assert release.title() in listed[release.repo] and "(1 of 31)" in out
    # what the mark promises: it loads with the Hub unreachable
    loaded = load_model(release.repo)
    assert torch.equal(loaded.conv_first.weight, model.conv_first.weight)


def test_the_listing_prints_on_a_stdout_that_cannot_encode_it():
    """`swinir-hf models` (σ, ×), `eval`'s table and `convert`'s line ended in UnicodeEncodeError on an ASCII stdout
    (LANG=C, PYTHONIOENCODING=ascii, a redirected Windows console), `eval` before writing its --json."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONIOENCODING": "ascii", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "swinir_hf.cli", "models"]
    done = subprocess.run(command, capture_output=True, env=env, timeout=300)
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode()[-2000:]
    assert b"\\u03c3" in done.stdout  # sigma, as an escape


def test_listing_into_a_pipe_that_closes_early_is_quiet():
    """`swinir-hf models | head -1`: a reader that has gone is no traceback, buffered or not."""
    import os
    import subprocess
    import sys

    code = "import sys; from swinir_hf.cli import main; sys.exit(main(['models']))"
    for unbuffered in ("", "1"):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader has gone before the first line
        env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
        done = subprocess.run(
            [sys.executable, "-c", code], stdout=write_end, stderr=subprocess.PIPE, env=env, timeout=300
        )
        os.close(write_end)
        assert (done.returncode, done.stderr.decode()) == (0, ""), unbuffered


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full (Linux's) to write to")
@pytest.mark.parametrize(
    "command", [["swinir_hf.cli", "models"], ["swinir_hf.cli", "train", "--help"], ["swinir_hf.evaluate", "--help"]]
)
def test_output_into_a_full_disk_is_said_in_one_line(command):
    """`swinir-hf models > out.txt` on a full disk: one line and exit status 1, not OSError's traceback; so for
    `--help` and the module entry points."""
    import subprocess
    import sys

    with open("/dev/full", "w") as full:  # every write fails with ENOSPC
        done = subprocess.run([sys.executable, "-m", *command], stdout=full, stderr=subprocess.PIPE, timeout=300)
    assert (done.returncode, done.stderr.decode()) == (
        1,
        "error: standard output could not be written: No space left on device\n",
    )


def test_saving_a_model_folder_draws_no_progress_bar(tiny_config, tmp_path, capsys):
    """transformers draws 'Writing model shards' for the one small weights file; at every training checkpoint it
    broke up the run's own bar."""
    from transformers.utils import logging as hf_logging

    from swinir_hf.checkpoints.folders import save_model_folder

    save_model_folder(tmp_path / "model", SwinIRForImageRestoration(tiny_config()))
    assert (tmp_path / "model" / "model.safetensors").is_file()
    assert "Writing model shards" not in capsys.readouterr().err
    assert hf_logging.is_progress_bar_enabled()  # switched back on afterwards


def test_saves_on_two_threads_leave_the_progress_bars_on():
    """Blocks on two threads that overlap: the second saved the settings the first had switched off, and put them
    back after the first had restored them, leaving the Hub's bars off for good."""
    from huggingface_hub.utils import are_progress_bars_disabled
    from transformers.utils import logging as hf_logging

    from swinir_hf.library_bars import transformers_bars_off

    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with transformers_bars_off():
            first_in.set()
            assert second_in.wait(10)
        first_out.set()

    def second():
        assert first_in.wait(10)
        with transformers_bars_off():
            second_in.set()
            assert first_out.wait(10)
            assert not hf_logging.is_progress_bar_enabled()  # still off under the second block

    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(first), pool.submit(second)]:
            done.result()
    assert hf_logging.is_progress_bar_enabled() and not are_progress_bars_disabled()


@pytest.mark.parametrize("hub_bars", ["off", "off for downloads only"])
def test_saving_leaves_the_hubs_progress_bars_as_the_user_set_them(tiny_config, tmp_path, hub_bars):
    """transformers' switch back on turned every Hub bar on too: a user's `disable_progress_bars()` (globally or for
    a group) was undone by a save, an export or a collection's model load."""
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    from transformers.utils import logging as hf_logging

    from swinir_hf.checkpoints.folders import save_model_folder

    group = None if hub_bars == "off" else "huggingface_hub.file_download"
    disable_progress_bars(group)
    transformers_bars = hf_logging.is_progress_bar_enabled()
    try:
        save_model_folder(tmp_path / "model", SwinIRForImageRestoration(tiny_config()))
        assert are_progress_bars_disabled(group) and hf_logging.is_progress_bar_enabled() == transformers_bars
        assert are_progress_bars_disabled() == (group is None)  # a group's switch stayed that group's
    finally:
        enable_progress_bars()
        hf_logging.enable_progress_bar()


def test_package_folders_load_in_float32_whatever_their_storage(tiny_config, tmp_path, monkeypatch):
    """Float16 storage halves a folder; transformers' default load (`dtype="auto"`, config.json's) and `load_model`
    from a folder or from the Hub cache give the float32 model all the same."""
    from safetensors.torch import load_file

    from swinir_hf.checkpoints.folders import save_model_folder

    model = SwinIRForImageRestoration(tiny_config()).eval()
    save_model_folder(tmp_path / "ours", copy.deepcopy(model).half())
    assert {v.dtype for v in load_file(tmp_path / "ours" / "model.safetensors").values()} == {torch.float16}
    x = torch.rand(1, 3, 9, 7)
    for loaded in (SwinIRForImageRestoration.from_pretrained(tmp_path / "ours"), load_model(tmp_path / "ours")):
        assert {p.dtype for p in loaded.parameters()} == {torch.float32}
        assert torch.equal(loaded.conv_first.weight, model.conv_first.weight.half().float())
    # A repo someone saved in float16 with transformers' own save_pretrained: float32 through load_model too.
    copy.deepcopy(model).half().save_pretrained(tmp_path / "theirs")
    fake_cache(tmp_path / "cache", "org/half", tmp_path / "theirs")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    from_hub = load_model("org/half")
    assert {p.dtype for p in from_hub.parameters()} == {torch.float32}
    with torch.no_grad():
        assert torch.equal(from_hub(x).reconstruction, load_model(tmp_path / "ours")(x).reconstruction)


def test_damaged_weights_are_named_in_a_folder_and_in_the_hub_cache(tiny_config, tmp_path, monkeypatch):
    """A truncated pytorch_model.bin (what other tools save) is one CheckpointError naming it, not torch's
    traceback; in the Hub cache it is a damaged copy to remove, not a model to download."""
    model = SwinIRForImageRestoration(tiny_config()).eval()
    model.save_pretrained(tmp_path / "bin")
    (tmp_path / "bin" / "model.safetensors").unlink()
    weights = tmp_path / "bin" / "pytorch_model.bin"
    torch.save(model.state_dict(), weights)
    assert torch.equal(load_model(tmp_path / "bin").conv_first.weight, model.conv_first.weight)
    weights.write_bytes(weights.read_bytes()[:3000])
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(weights))} is not a readable PyTorch checkpoint \("):
        load_model(tmp_path / "bin")

    fake_cache(tmp_path / "cache", "org/broken", tmp_path / "bin")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(CheckpointError) as err:
        load_model("org/broken")
    message = str(err.value)
    assert message.startswith("the cached copy of model 'org/broken' is damaged (") and "pytorch_model.bin" in message
    what_to_do = "remove it (`hf cache rm model/org/broken`) and download it again (`hf download org/broken`)"
    assert message.endswith(what_to_do)


def test_transformers_own_loading_names_a_truncated_safetensors(tiny_config, tmp_path):
    """`from_pretrained` through the Auto classes (the package imported, or the folder's own code with
    trust_remote_code) says which model's weights cannot be read and what to do, not safetensors' bare header
    error; the lenient path (output_loading_info=True) too."""

    SwinIRForImageRestoration(tiny_config()).save_pretrained(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    expected = rf"^the weights of {re.escape(str(tmp_path / 'm'))} cannot be read \(.+\): a \.safetensors file is"
    for kwargs in ({}, {"trust_remote_code": True}, {"output_loading_info": True}):
        with pytest.raises(OSError, match=expected):
            AutoModelForImageToImage.from_pretrained(tmp_path / "m", **kwargs)

    # a truncated pytorch_model.bin (no safetensors): torch's "PytorchStreamReader failed reading zip archive"
    legacy_model = SwinIRForImageRestoration(tiny_config())
    legacy_model.save_pretrained(tmp_path / "b")  # transformers 5 writes safetensors only: the .bin by hand
    (tmp_path / "b" / "model.safetensors").unlink()
    legacy = tmp_path / "b" / "pytorch_model.bin"
    torch.save(legacy_model.state_dict(), legacy)
    legacy.write_bytes(legacy.read_bytes()[: legacy.stat().st_size // 2])
    expected = rf"^the weights of {re.escape(str(tmp_path / 'b'))} cannot be read \(.+\): a pytorch_model\.bin is"
    for kwargs in ({}, {"output_loading_info": True}):
        with pytest.raises(OSError, match=expected):
            AutoModelForImageToImage.from_pretrained(tmp_path / "b", **kwargs)

    # a sharded checkpoint's damaged index: named as such, not as config.json (load_model names the file)
    SwinIRForImageRestoration(tiny_config()).save_pretrained(tmp_path / "s", max_shard_size="20KB")
    index = tmp_path / "s" / "model.safetensors.index.json"
    index.write_text("{broken")
    with pytest.raises(OSError, match=r"cannot be read \(.+\): its weights index \(\.index\.json\) is truncated"):
        AutoModelForImageToImage.from_pretrained(tmp_path / "s")
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(index))} is not a readable weights index"):
        load_model(tmp_path / "s")


def test_an_index_naming_a_missing_or_outside_shard_is_named(tiny_config, tmp_path):
    """A shard the index names that is missing was a bare `FileNotFoundError` from inside transformers; one outside
    the folder (`../x.safetensors`) was blamed on config.json by `load_model` (transformers' `ValueError`)."""
    folder = tmp_path / "s"
    SwinIRForImageRestoration(tiny_config()).save_pretrained(folder, max_shard_size="20KB")
    shards = sorted(folder.glob("model-*.safetensors"))
    shards[-1].rename(tmp_path / "outside.safetensors")
    missing = rf"its weights index names {shards[-1].name}, which is missing; save or download the model again$"
    with pytest.raises(OSError, match=rf"^the weights of {re.escape(str(folder))} cannot be read: {missing}"):
        AutoModelForImageToImage.from_pretrained(folder)
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(folder))}: {missing}"):
        load_model(folder)
    index = folder / "model.safetensors.index.json"
    index.write_text(index.read_text().replace(shards[-1].name, "../outside.safetensors"))
    outside = r"its weights index names \.\./outside\.safetensors, outside the folder; save or download"
    with pytest.raises(OSError, match=rf"cannot be read: {outside}"):
        AutoModelForImageToImage.from_pretrained(folder)
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(folder))}: {outside}"):
        load_model(folder)


def test_a_hub_cache_snapshot_of_shards_loads_from_its_folder(tiny_config, tmp_path):
    """A snapshot folder of the Hub cache (what `snapshot_download` / `hf download` return) holds symlinks into the
    cache's blobs: its shards were refused as "outside the folder" when the check followed them."""
    saved, snapshot = tmp_path / "saved", tmp_path / "models--me--x" / "snapshots" / "abc123"
    model = SwinIRForImageRestoration(tiny_config()).eval()
    model.save_pretrained(saved, max_shard_size="20KB")
    (tmp_path / "models--me--x" / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for i, file in enumerate(sorted(saved.iterdir())):
        blob = tmp_path / "models--me--x" / "blobs" / f"{i:040x}"
        file.rename(blob)
        (snapshot / file.name).symlink_to(os.path.relpath(blob, snapshot))
    assert len(list(snapshot.glob("model-*.safetensors"))) > 1
    for load in (load_model, AutoModelForImageToImage.from_pretrained):
        loaded = load(snapshot)
        expected = model.state_dict()
        assert all(torch.equal(value, expected[name]) for name, value in loaded.state_dict().items())


def test_weights_holding_nan_are_refused(tiny_config, tmp_path):
    """A folder whose weights hold NaN (a diverged run's) is a CheckpointError naming the tensors, not a model that
    writes black images."""
    model = SwinIRForImageRestoration(tiny_config()).eval()
    with torch.no_grad():
        model.conv_first.weight[0, 0, 0, 0] = float("nan")
        model.conv_after_body.bias[0] = float("inf")
    model.save_pretrained(tmp_path / "nan")
    message = r"hold NaN or infinite values \(conv_first\.weight, conv_after_body\.bias\): it cannot restore"
    with pytest.raises(CheckpointError, match=message):
        load_model(tmp_path / "nan")
    # transformers' way in (the Auto classes, the pipeline) too: they loaded it, and the pipeline wrote black images
    with pytest.raises(IncompatibleWeightsError, match=message):
        AutoModelForImageToImage.from_pretrained(tmp_path / "nan")


def test_weights_that_are_not_floating_point_are_refused(tiny_config, tmp_path):
    """Integer or boolean tensors under a model's names (a damaged or hand-made file) were cast to floats and loaded:
    outputs of 5e7."""
    from safetensors.torch import load_file, save_file

    SwinIRForImageRestoration(tiny_config()).save_pretrained(tmp_path / "int")
    weights = tmp_path / "int" / "model.safetensors"
    tensors = load_file(weights)
    tensors["conv_first.weight"] = (tensors["conv_first.weight"] * 100).to(torch.int32)
    tensors["conv_first.bias"] = tensors["conv_first.bias"] > 0
    save_file(tensors, weights, metadata={"format": "pt"})
    message = r"tensors that are not floating point \(conv_first\.bias \(BOOL\), conv_first\.weight \(I32\)\)"
    with pytest.raises(IncompatibleWeightsError, match=message):
        AutoModelForImageToImage.from_pretrained(tmp_path / "int")
    with pytest.raises(CheckpointError, match=message):
        load_model(tmp_path / "int")


def test_a_config_of_a_million_layers_is_refused_before_it_is_built(tiny_config, tmp_path, monkeypatch):
    """`depths: [1000000]` in a small folder's config.json: the size check built the module tree (on the meta
    device) first, which ran for minutes and took gigabytes."""
    SwinIRForImageRestoration(tiny_config()).save_pretrained(tmp_path / "deep")
    config = json.loads((tmp_path / "deep" / "config.json").read_text())
    config.update(depths=[1_000_000], num_heads=[config["num_heads"][0]])
    (tmp_path / "deep" / "config.json").write_text(json.dumps(config))
    built = []
    monkeypatch.setattr(SwinIRForImageRestoration, "__init__", lambda *args: built.append(args) or 1 / 0)
    with pytest.raises(CheckpointError, match=r"describes a model of at least [\d,]+ parameters, but its weights"):
        load_model(tmp_path / "deep")
    assert built == []


def test_a_prefix_of_many_names_suggests_none(monkeypatch, tmp_path):
    """`swinir` begins every catalogue name: no 34-name "did you mean"."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelNotAvailableError) as err:
        load_model("swinir", cache_dir=tmp_path)
    assert "did you mean" not in str(err.value)


def test_restore_takes_a_hub_models_revision(tiny_config, tmp_path, monkeypatch, capsys):
    """`swinir-hf restore --model org/name --revision v1` loads that tag's snapshot (offline, from the cache); a
    revision of a local model is an error, not ignored."""
    import numpy as np
    from PIL import Image

    from swinir_hf.cli import main

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    main_model, tagged = (SwinIRForImageRestoration(tiny_config(upscale=scale)).eval() for scale in (2, 3))
    main_model.save_pretrained(tmp_path / "main")
    fake_cache(tmp_path / "cache", "org/m", tmp_path / "main")
    tagged.save_pretrained(tmp_path / "cache/models--org--m/snapshots" / ("1" * 40))
    (tmp_path / "cache/models--org--m/refs/v1").write_text("1" * 40)
    assert load_model("org/m").config.upscale == 2
    assert load_model("org/m", revision="v1").config.upscale == 3
    Image.fromarray(np.zeros((6, 5, 3), np.uint8)).save(tmp_path / "in.png")
    args = ["restore", str(tmp_path / "in.png"), "-o", str(tmp_path / "out"), "--no-progress", "--model"]
    assert main([*args, "org/m", "--revision", "v1"]) == 0
    assert Image.open(tmp_path / "out/in.png").size == (15, 18)
    with pytest.raises(CheckpointError, match="^sr-x4 is a local model: a revision is for a Hub model"):
        load_model("sr-x4", revision="v1")
    assert main([*args, "sr-x4", "--revision", "v1", "--overwrite"]) == 1
    assert "sr-x4 is a local model: a revision is for a Hub model (org/name)" in capsys.readouterr().err

    # eval: the Hub models among --model are scored at the revision, their rows named so; local ones as they are
    (tmp_path / "hr").mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (18, 24, 3), np.uint8)).save(tmp_path / "hr/a.png")
    tagged.save_pretrained(tmp_path / "v1")
    evaluate = ["eval", "--dataset", str(tmp_path / "hr"), "--scale", "3", "--json", str(tmp_path / "e.json")]
    assert main([*evaluate, "--model", "org/m", str(tmp_path / "v1"), "--revision", "v1"]) == 0
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["models"] == ["m@v1", "v1"] and report["mean"]["m@v1"] == report["mean"]["v1"]
    capsys.readouterr()
    assert main([*evaluate, "--model", str(tmp_path / "v1"), "--revision", "v1", "--overwrite"]) == 1
    assert capsys.readouterr().err == (
        "error: --revision v1 is for a Hub model (org/name), and none of --model is one\n"
    )


def test_a_model_past_any_swinirs_is_not_built_whatever_its_config_came_from(tiny_config):
    """A Hub model's config.json is not compared with weights on disk before transformers builds it: `depths`
    [100000] from `--model evil/swinir` ran for minutes (a security audit). Building refuses it at once."""
    from swinir_hf.models.configuration_swinir import MAX_SWIN_LAYERS

    for fields, said in (
        ({"depths": [MAX_SWIN_LAYERS + 1]}, f"{MAX_SWIN_LAYERS + 1:,} Swin layers"),
        ({"embed_dim": 40_000, "num_heads": [8]}, "and at least 25,604,320,784 parameters"),
    ):
        config = tiny_config()
        for key, value in fields.items():
            setattr(config, key, value)
        with pytest.raises(ValueError, match=f"this config describes a SwinIR of .*{said}.*a damaged or hostile"):
            SwinIRForImageRestoration(config)


def test_a_config_whose_mlp_or_embedding_is_past_any_swinirs_is_refused_before_anything_is_allocated(tiny_config):
    """The parameter bound counted the attention projections alone: `mlp_ratio` 10**7 in a config (a model of 16
    channels) allocated 10 GB before torch's allocator failed, `use_absolute_embeddings` with `image_size` 10**6
    asked for 64 TB (a security audit). The bound stays below what is built, which it is compared with."""
    for fields, said in (
        ({"mlp_ratio": 1e7}, "at least 10,240,"),
        ({"use_absolute_embeddings": True, "image_size": 1_000_000}, "at least 16,000,000,"),
    ):
        config = tiny_config()
        for key, value in fields.items():
            setattr(config, key, value)
        with pytest.raises(ValueError, match=f"2 Swin layers and {said}.*a damaged or hostile"):
            config.check_buildable()
    for fields in ({"mlp_ratio": 0.5}, {"use_absolute_embeddings": True}, {"depths": [1, 2], "num_heads": [2, 4]}):
        config = tiny_config(**fields)
        with torch.device("meta"):
            built = sum(p.numel() for p in SwinIRForImageRestoration(config).parameters())
        assert built * 0.4 < config.least_parameters() <= built


def test_a_model_folder_with_a_window_past_any_swinirs_is_refused_though_its_weights_fit(tiny_config, tmp_path):
    """`window_size` 256 makes a model of 1 MB of weights, which fit its config, whose first 8×8 input asked for
    17 GB (window attention takes window_size**4 values per head and window; the authors' window is 8): a hostile
    folder got through every check (a security audit). It is refused by its config, before anything is built."""
    from swinir_hf import SwinIRConfig

    folder = tmp_path / "wide"
    with pytest.MonkeyPatch.context() as patch:  # such a folder, made as only a hostile tool would now
        patch.setattr(SwinIRConfig, "check_buildable", lambda self: None)
        SwinIRForImageRestoration(
            tiny_config(window_size=256, image_size=256, depths=[1], num_heads=[1])
        ).save_pretrained(folder)
    with pytest.raises(CheckpointError, match=r"window_size 256 is past what is built here \(64;"):
        load_model(folder)


def test_a_saved_config_missing_a_field_is_refused_naming_it_not_filled_with_the_default(tiny_config, tmp_path):
    """A config.json that lost a field (a hand edit, a cut-off write) was filled with the default: a JPEG model
    without `img_range` (255) loaded as 1 and restored wrong images without a word; one without `depths` was refused
    for the default `[6, 6, 6, 6, 6, 6]` it never named. A saved config names every field the model is built or
    computes with: one missing is named, in every way a folder loads."""
    from swinir_hf import SwinIRConfig

    folder = tmp_path / "jpeg"
    SwinIRForImageRestoration(tiny_config(upscale=1, upsampler=None, img_range=255.0)).save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    for field in ("img_range", "depths"):
        edited = {k: v for k, v in config.items() if k != field}
        (folder / "config.json").write_text(json.dumps(edited))
        said = rf"config\.json has no {field}, which a saved SwinIR config names: .* re-export the model"
        for load in (SwinIRForImageRestoration.from_pretrained, AutoModel.from_pretrained):
            with pytest.raises(ValueError, match=said):
                load(folder)
        with pytest.raises(CheckpointError, match=said):
            load_model(folder)
    (folder / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "img_range"}))
    assert SwinIRForImageRestoration.from_pretrained(folder, img_range=255.0).config.img_range == 255.0  # set: fine
    (folder / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "transformers_version"}))
    assert load_model(folder).config.img_range == 255.0  # a hand-written config names what it likes
    partial = {"model_type": "swinir", "upscale": 2, "upsampler": "pixelshuffledirect"}
    assert SwinIRConfig.from_dict(partial).embed_dim == 180  # a dict of one's own, not a saved file: as before


def _bin_folder(tiny_config, folder):
    """(model, folder): a tiny model saved with pytorch_model.bin weights, not safetensors, and loading from it."""
    model = SwinIRForImageRestoration(tiny_config())
    model.save_pretrained(folder)
    (folder / "model.safetensors").unlink()
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    assert SwinIRForImageRestoration.from_pretrained(folder).config.embed_dim == model.config.embed_dim
    return model, folder


def test_a_pytorch_model_bin_folder_is_held_to_its_weights_too(tiny_config, tmp_path, monkeypatch):
    """Only safetensors weights were compared with the config: a folder of pytorch_model.bin with `depths` [100000]
    was built for minutes, `embed_dim` 40000 ended in an allocator's traceback (a security audit)."""
    model, folder = _bin_folder(tiny_config, tmp_path / "bin")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "depths": [500]}))
    monkeypatch.setattr(SwinIRForImageRestoration, "__init__", lambda *args: pytest.fail("built"))
    with pytest.raises(CheckpointError, match=r"describes a model of at least [\d,]+ parameters, but its weights"):
        load_model(folder)


def test_a_pytorch_model_bin_that_unpacks_to_far_more_than_it_holds_is_refused_unread(
    tiny_config, tmp_path, zip_bomb, monkeypatch
):
    """A folder's pytorch_model.bin with deflated zip entries was unpacked whole (twice: mapped, then loaded) before
    transformers' bare "Trying to resize storage that is not resizable": 0.6 MB took 1.5 GB."""
    model, folder = _bin_folder(tiny_config, tmp_path / "bin")
    declared, size = zip_bomb(model.state_dict(), folder / "pytorch_model.bin")
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: pytest.fail("unpacked"))
    with pytest.raises(OSError) as err:
        SwinIRForImageRestoration.from_pretrained(folder)
    assert str(err.value) == (
        f"the weights of {folder} cannot be read: pytorch_model.bin: its compressed entries unpack to {declared:,} "
        f"bytes from a file of {size:,} (torch.save writes them uncompressed): a decompression bomb, not loaded; "
        "save or download the model again"
    )


def test_a_hub_model_is_held_to_its_weights_before_it_is_built(tiny_config, tmp_path, monkeypatch):
    """A Hub repo's config was compared with its weights only once transformers had built the model (a local folder's
    before, from the safetensors headers or the memory-mapped pytorch_model.bin): `depths` [500] was built, 500 Swin
    layers, to be told the weights do not fit. Its files are fetched first (from_pretrained then finds them cached)
    and held to each other as a folder's are, in the same words, naming the repo: a single safetensors file, shards,
    a pytorch_model.bin alone."""
    model = SwinIRForImageRestoration(tiny_config()).eval()
    said = {}
    for kind in ("single", "shards", "bin"):
        for name in (f"{kind}-fits", kind):
            folder = tmp_path / name
            model.save_pretrained(folder, max_shard_size="20KB" if kind == "shards" else "5GB")
            if kind == "bin":
                (folder / "model.safetensors").unlink()
                torch.save(model.state_dict(), folder / "pytorch_model.bin")
        config = json.loads((tmp_path / kind / "config.json").read_text())
        (tmp_path / kind / "config.json").write_text(json.dumps({**config, "depths": [500]}))
        with pytest.raises(CheckpointError) as local:
            load_model(tmp_path / kind)
        said[kind] = str(local.value).replace(str(tmp_path / kind), f"org/{kind}")
        for name in (f"{kind}-fits", kind):
            fake_cache(tmp_path / "cache", f"org/{name}", tmp_path / name)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    x = torch.rand(1, 3, 6, 5)
    with torch.no_grad():
        for kind in said:  # the files fetched first are those it loads
            assert torch.equal(load_model(f"org/{kind}-fits")(x).reconstruction, model(x).reconstruction)
    monkeypatch.setattr(SwinIRForImageRestoration, "__init__", lambda *args: pytest.fail("built"))
    for kind, message in said.items():
        assert re.fullmatch(r"org/\w+: its config.json describes a model of at least [\d,]+ parameters, .+", message)
        with pytest.raises(CheckpointError) as err:
            load_model(f"org/{kind}")
        assert str(err.value) == message, kind
        with pytest.raises(IncompatibleWeightsError) as err:
            SwinIRForImageRestoration.from_pretrained(f"org/{kind}")
        assert str(err.value) == message, kind


def _fake_hub(monkeypatch, head) -> ModuleType:
    """huggingface_hub's HTTP client with `head(url)` for its HEAD requests (`hub_reachable`'s look at the Hub);
    any other request fails the test: nothing leaves the host. Returns the client's module (httpx2, or httpx)."""
    from huggingface_hub.utils import get_session

    client = type(get_session())
    monkeypatch.setattr(client, "head", lambda self, url, **kwargs: head(str(url)))
    monkeypatch.setattr(client, "send", lambda self, request, **kwargs: pytest.fail(f"asked: {request.url}"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # Online, transformers asks the Hub in a thread of its own for a safetensors copy of a pytorch_model.bin.
    monkeypatch.setenv("DISABLE_SAFETENSORS_CONVERSION", "1")
    return importlib.import_module(client.__module__.split(".")[0])


@pytest.fixture
def silent_hub(monkeypatch):
    """A Hub that does not answer: the look at it fails to connect, and any other request fails the test, as a
    second look at a Hub found silent (huggingface_hub's retries: 23 s a file). Returns the URLs looked at."""
    looked = []

    def head(url):
        looked.append(url)
        raise client.ConnectError("[Errno -2] Name or service not known")

    client = _fake_hub(monkeypatch, head)
    return looked


def _spy_on_transformers_load(monkeypatch) -> list[dict]:
    """The keyword arguments of each transformers `from_pretrained` call, which goes on as it would."""
    asked, parent = [], PreTrainedModel.from_pretrained.__func__

    def spy(cls, *args, **kwargs):
        asked.append(kwargs)
        return parent(cls, *args, **kwargs)

    monkeypatch.setattr(PreTrainedModel, "from_pretrained", classmethod(spy))
    return asked


def test_a_silent_hub_is_asked_once_and_a_cached_model_loads_from_the_cache(
    silent_hub, tiny_config, tmp_path, monkeypatch
):
    """With the Hub unreachable (HF_HUB_OFFLINE unset), each file the cache lacks was asked for with huggingface_hub's
    retries twice, as the weights were fetched to be compared (`_hub_folder`) and by transformers' load: 47 s for a
    sharded model, 93 s for a pytorch_model.bin one. One look at the Hub, then the cache only, for both."""
    model = SwinIRForImageRestoration(tiny_config()).eval()
    for kind in ("single", "shards", "bin"):
        folder = tmp_path / kind
        model.save_pretrained(folder, max_shard_size="20KB" if kind == "shards" else "5GB")
        if kind == "bin":
            (folder / "model.safetensors").unlink()
            torch.save(model.state_dict(), folder / "pytorch_model.bin")
        fake_cache(tmp_path / "cache", f"org/{kind}", folder)
    asked = _spy_on_transformers_load(monkeypatch)
    x = torch.rand(1, 3, 6, 5)
    for kind in ("single", "shards", "bin"):
        loaded = SwinIRForImageRestoration.from_pretrained(f"org/{kind}", cache_dir=tmp_path / "cache").eval()
        with torch.no_grad():
            assert torch.equal(loaded(x).reconstruction, model(x).reconstruction), kind
        assert asked.pop()["local_files_only"] is True
        assert silent_hub == [constants.ENDPOINT]  # once
        silent_hub.clear()


def test_a_silent_hub_and_a_model_not_cached_say_so_at_once(silent_hub, tmp_path):
    for options in ({}, {"output_loading_info": True}):  # the strict load and transformers' lenient one
        with pytest.raises(OSError) as err:
            SwinIRForImageRestoration.from_pretrained("org/absent", cache_dir=tmp_path, **options)
        assert str(err.value).startswith(
            "org/absent is not in the Hugging Face cache and the Hub cannot be reached: download it where there is a "
            "network (hf download org/absent)"
        )
        assert silent_hub == [constants.ENDPOINT]
        silent_hub.clear()


def test_a_hub_that_answers_even_with_an_error_is_asked_as_before(tmp_path, monkeypatch):
    """Any answer to the look at the Hub (a 404 here) is a Hub that answers: the files are fetched as transformers
    fetches them, not from the cache only (and what it says of them is its own)."""
    from transformers import utils as transformers_utils

    client = _fake_hub(monkeypatch, lambda url: client.Response(404))
    fetched = []
    monkeypatch.setattr(transformers_utils, "cached_file", lambda repo, name, **kw: fetched.append(kw) or None)

    class Asked(Exception):
        """transformers' load reached, with these options; stopped before it asks the Hub."""

    def load(cls, *args, **kwargs):
        raise Asked(kwargs)

    monkeypatch.setattr(PreTrainedModel, "from_pretrained", classmethod(load))
    for options in ({}, {"output_loading_info": True}):
        with pytest.raises(Asked) as asked:
            SwinIRForImageRestoration.from_pretrained("org/x", cache_dir=tmp_path, **options)
        assert "local_files_only" not in asked.value.args[0]
    assert fetched and all("local_files_only" not in kw for kw in fetched)


def test_a_load_told_whether_to_use_the_network_does_not_look_at_the_hub(silent_hub, tmp_path, monkeypatch):
    """`local_files_only=False` given (as `load_model` gives it, having looked at the Hub itself): no second look, one
    HEAD request less a load; the caller's choice reaches transformers as given."""
    from transformers import utils as transformers_utils

    monkeypatch.setattr(transformers_utils, "cached_file", lambda repo, name, **kw: None)

    class Asked(Exception):
        """transformers' load reached, with these options; stopped before it asks the Hub."""

    def load(cls, *args, **kwargs):
        raise Asked(kwargs)

    monkeypatch.setattr(PreTrainedModel, "from_pretrained", classmethod(load))
    with pytest.raises(Asked) as asked:
        SwinIRForImageRestoration.from_pretrained("org/x", cache_dir=tmp_path, local_files_only=False)
    assert asked.value.args[0]["local_files_only"] is False and silent_hub == []


def test_an_empty_spec_is_refused_not_taken_for_the_current_folder(saved, monkeypatch):
    """`load_model(os.environ.get("MODEL", ""))` loaded whatever model folder the process ran in (`Path("")` is
    ".") or said `. is a folder without config.json`, a path never given; as the command lines' empty values, it is
    refused by name."""
    monkeypatch.chdir(saved[1])
    with pytest.raises(CheckpointError, match=r"^the model spec is empty \(an unset variable\?\): give a bundled"):
        load_model("")
    assert isinstance(load_model("."), SwinIRForImageRestoration)  # the folder, named, still loads
