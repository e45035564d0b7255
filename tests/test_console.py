"""What the package prints and logs on stderr around its progress bars, and how a caller turns them off."""

from __future__ import annotations

import contextlib
import importlib.machinery
import logging
import re
import subprocess
import sys
import types

import numpy as np
import pytest
from PIL import Image
from tqdm.auto import tqdm

from swinir_hf import SwinIRForImageRestoration, console, progress_lines, restore
from swinir_hf.cli import main


@pytest.fixture(scope="module")
def model(tiny_config):
    return SwinIRForImageRestoration(tiny_config()).eval()


@pytest.fixture(scope="module")
def model_dir(tiny_config, tmp_path_factory):
    path = tmp_path_factory.mktemp("model")
    SwinIRForImageRestoration(tiny_config()).save_pretrained(path)
    return path


def _final_lines(err: str) -> list[str]:
    """Each line of `err` as a terminal leaves it: what follows its last carriage return."""
    return [line.rsplit("\r", 1)[-1] for line in err.split("\n")]


@pytest.mark.parametrize("logged", ["prefixed_warnings", "package_log"])
def test_a_logged_warning_goes_above_a_progress_bar_not_into_it(logged, monkeypatch, capsys):
    """The package's log handlers wrote straight to stderr while a bar was drawn there, which left
    `restore:   0%|...| 0/3 [...]warning: tile_overlap=0: ...` on one line (and so the trainer's Ctrl-C notice)."""
    monkeypatch.setattr(logging.getLogger("swinir_hf"), "handlers", [])  # put back after
    with console.package_log(logging.INFO) if logged == "package_log" else contextlib.nullcontext():
        if logged == "prefixed_warnings":
            console.prefixed_warnings()
        with tqdm(total=3, desc="restore") as bar:
            logging.getLogger("swinir_hf.train").warning("SIGINT: stopping after this step")
            bar.update()
    err = capsys.readouterr().err
    assert "warning: SIGINT: stopping after this step" in _final_lines(err)
    assert "restore:" in err.split("stopping after this step")[1]  # the bar, drawn again below it


def test_tqdm_disable_is_left_to_tqdm_where_a_bar_is_wanted(tqdm_environment, model, monkeypatch, capsys):
    """`disable=not progress` was passed to every bar: tqdm's environment (`TQDM_DISABLE=1`) only sets defaults."""
    assert console.bar_switch(False) == {"disable": True}
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: a bar (elsewhere lines: progress_lines)
    restore(model, np.zeros((16, 16, 3), np.uint8), tile=8, progress=True)  # a bar over its tiles (left: cleared)
    assert "tile/s" in capsys.readouterr().err
    tqdm_environment(disable=True)
    restore(model, np.zeros((16, 16, 3), np.uint8), tile=8, progress=True)
    assert capsys.readouterr().err == ""


def test_a_bar_is_redrawn_in_place_on_a_terminal_only(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert not console.bars_redrawn()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert console.bars_redrawn()


class ZMQInteractiveShell:
    """IPython's shell in a Jupyter kernel (notebook, JupyterLab, VS Code), as `get_ipython()` gives it."""


class Shell(ZMQInteractiveShell):
    """Colab's (`google.colab._shell.Shell`)."""


class TerminalInteractiveShell:
    """IPython in a terminal (`ipython script.py 2> log`)."""


@pytest.mark.parametrize("shell", [ZMQInteractiveShell, Shell])
def test_a_notebook_without_ipywidgets_draws_a_bar_not_lines(shell, model, monkeypatch, capsys):
    """A notebook's stderr is no terminal, but its output redraws tqdm's text bar on each carriage return: without
    ipywidgets (tqdm.auto then gives that bar, as here) `progress=True` drew none there, only a line each 30 s."""
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=shell))
    if shell is Shell:
        colab = types.ModuleType("google.colab")
        colab.__spec__ = importlib.machinery.ModuleSpec("google.colab", None)
        monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert console.bars_redrawn()
    restore(model, np.zeros((16, 16, 3), np.uint8), tile=8, progress=True)
    assert "tile/s" in capsys.readouterr().err


def test_ipython_in_a_terminal_with_stderr_in_a_file_gets_lines(monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=TerminalInteractiveShell))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert not console.bars_redrawn()
    with progress_lines.progress_bar(True, total=3) as bar:
        assert isinstance(bar, progress_lines.ProgressLines)


def test_prefixed_warnings_are_said_once_after_the_console_is_reloaded():
    """`importlib.reload` (a notebook's autoreload) makes new classes: the handler added before was taken for none of
    the package's, and a second was added, which said each warning twice."""
    code = (
        "import importlib, logging; from swinir_hf import console; console.prefixed_warnings(); "
        "importlib.reload(console).prefixed_warnings(); logging.getLogger('swinir_hf.x').warning('said once')"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert run.stderr.splitlines() == ["warning: said once"]


def test_warn_once_says_each_message_once_per_process(caplog):
    logger = logging.getLogger("swinir_hf.inference.restoration")
    for message in ("a", "b", "a", "a", "b"):
        console.warn_once(logger, message)
    assert caplog.messages == ["a", "b"]


def test_quiet_silences_the_notes(capsys):
    with console.quiet_notes(True):
        console.note("restored 3")
    console.note("said")
    assert capsys.readouterr().err == "said\n"


# A restore line: "restore: 1 of 3 images (33%), 00:30 elapsed, ~01:00 left; the image in progress: 2 of 4 tiles (50%)"
RESTORE_LINE = re.compile(r"restore: \d of 3 images \(\d+%\), \d\d:\d\d elapsed(, ~\d\d:\d\d left)?(; .* tiles .*)?")


def _restore(folder, model_dir, *options):
    rng = np.random.default_rng(0)
    for name in "abc":
        Image.fromarray(rng.integers(0, 256, (16, 12, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    # 8-pixel tiles: 4 to an image, counted in the lines too
    return main(["restore", str(folder), "-o", str(folder / "out"), "--model", str(model_dir), "--tile", "8", *options])


def test_restore_into_a_log_writes_count_lines_at_most_every_30_seconds(model_dir, tmp_path, clock, capsys):
    """`swinir-hf restore ... 2> log` appended tqdm's every redraw (`\\r`) to one line, transformers' loading bar
    included; now a line when 30 s (of the fake clock) have passed since the last, and the summary as before."""
    assert _restore(tmp_path, model_dir) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "Loading weights" not in err
    *lines, summary = err.splitlines()
    assert summary.startswith("restored 3, failed 0, skipped 0 existing")
    assert lines and all(RESTORE_LINE.fullmatch(line) for line in lines), lines
    assert "; the image in progress: " in err  # the tiles of the image being restored
    # One line at most per 30 s of the clock (it read 10 s more each time): not one per tile (12) or image (3).
    assert len(lines) <= 10 * len(clock) / 30 and len(lines) < 12


def _image_folder(folder):
    """Three 32×24 images (SSIM needs 11 pixels a side of a ×2 model's inputs) in a new folder: a dataset that
    datasets has not cached, which it reads with its "Generating train split" bar."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in "abc":
        Image.fromarray(rng.integers(0, 256, (32, 24, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    return f"imagefolder:{folder}"


def test_restore_and_eval_of_a_dataset_into_a_log_draw_no_datasets_bars(model_dir, tmp_path, monkeypatch, capsys):
    """datasets' own bars ("Generating train split", "Saving the dataset") went into the log of `restore --dataset`
    and `eval --dataset imagefolder:...` as tqdm's redraws, beside the command's plain lines; now they follow
    transformers' "Loading weights": drawn on a terminal only, not with `-q`, and put back on after."""
    import datasets

    datasets.enable_progress_bars()  # as a process starts (unless HF_DATASETS_DISABLE_PROGRESS_BARS is set)
    model = ["--model", str(model_dir)]
    restore_args = ["restore", "--dataset", _image_folder(tmp_path / "a"), "-o", str(tmp_path / "out"), *model]
    assert main(restore_args) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"restored 3 images of {restore_args[2]} → {tmp_path / 'out'} in ") and err.count("\n") == 1
    assert main(["eval", "--dataset", _image_folder(tmp_path / "b"), *model]) == 0
    assert capsys.readouterr().err == ""
    assert not datasets.are_progress_bars_disabled()

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["eval", "--dataset", _image_folder(tmp_path / "c"), *model]) == 0
    assert "\rGenerating train split: 3 examples" in capsys.readouterr().err
    restore_args[2], restore_args[4] = _image_folder(tmp_path / "d"), str(tmp_path / "quiet")
    assert main([*restore_args, "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_on_a_terminal_restore_draws_its_bar_as_before(model_dir, tmp_path, clock, monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert _restore(tmp_path, model_dir) == 0
    err = capsys.readouterr().err
    assert "\r" in err and "3/3" in err and "images (" not in err  # tqdm's bar, no lines


@pytest.mark.parametrize("option", ["--no-progress", "-q"])
def test_no_progress_writes_the_lines_on_a_terminal_too_and_quiet_none(
    option, model_dir, tmp_path, clock, monkeypatch, capsys
):
    """`--no-progress`, as train's: no bar, the count said in lines (train: its `step N/M` lines); `-q`: nothing."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert _restore(tmp_path, model_dir, option) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    if option == "-q":
        assert err == ""
    else:
        assert RESTORE_LINE.fullmatch(err.splitlines()[0]) and err.splitlines()[-1].startswith("restored 3")


def test_tqdm_disable_has_lines_said_instead_of_the_bar(tqdm_environment, clock, monkeypatch, capsys):
    """tqdm's own `TQDM_DISABLE=1` turns the bar off on a terminal; what it would show is said in lines, as train's."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    tqdm_environment(disable=True)
    with progress_lines.progress_bar(True, total=4, desc="restore", unit="image") as bar:
        for _ in range(3):  # at 10, 20 and 30 s of the clock: a line at 30 s
            bar.update()
    assert capsys.readouterr().err == "restore: 3 of 4 images (75%), 00:30 elapsed, ~00:10 left\n"


def test_ten_thousand_tiles_make_a_line_per_30_seconds_not_one_per_tile(monkeypatch, capsys):
    """One huge image's 10 000 tiles over 100 s: 3 lines (at 30, 60 and 90 s), each with the tiles done."""
    seconds = iter(np.arange(0.0, 200.0, 0.01))
    monkeypatch.setattr(progress_lines, "_now", lambda: float(next(seconds)))
    with progress_lines.progress_bar(True, total=1, desc="restore", unit="image") as images:
        with progress_lines.inner_progress(False, 10_000, "tile") as tiles:
            for _ in range(10_000):
                tiles.update()
        images.update()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(", ", 1)[1] for line in lines] == [
        f"{at} elapsed; the image in progress: {done} of 10000 tiles ({done / 100:.0f}%)"
        for at, done in (("00:30", 2999), ("01:00", 5999), ("01:30", 8999))
    ]
    assert progress_lines._innermost() is None  # closed: a later tile loop (the Python API's) draws its own


def test_a_name_with_terminal_controls_is_printed_escaped_by_the_commands(model_dir, tmp_path, monkeypatch, capsys):
    """A file named `a<ESC>]0;PWNED<BEL><ESC>[2Jb.png` (in a folder someone else made) was printed as it is: the
    terminal retitled its window and cleared the screen (OSC 52 would set the clipboard, a status report be typed
    back as input) (a security audit). Its controls are printed as escapes; a progress bar's own moves are kept."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a\x1b]0;PWNED\x07\x1b[2Jb.png").write_bytes(b"not an image")
    monkeypatch.setattr(sys, "stderr", console.StderrReaderGone(sys.stderr))  # as the programs' (`tolerant_output`)
    args = ["restore", str(folder), "-o", str(tmp_path / "out"), "--model", str(model_dir), "--no-progress"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"error: {folder}/a\\x1b]0;PWNED\\x07\\x1b[2Jb.png: not a readable image" in err
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", err), err
    for own in ("\r 50%|#####     | 1/2\tσ\n", "\x1b[A\x1b[A", "\x1b[3A", "\r\x1b[Kuploading\n"):  # tqdm's, the Hub's
        assert console._stream_safe(own) == own
    assert console.terminal_safe("\x00\x08\x9b6n\x7f") == "\\x00\\x08\\x9b6n\\x7f"


SPOOF = "a\x1b[1A\x1b[2K\x1b[31mb\x1b[0m\r\x1b]0;t\x07\x9b2J"  # up a line, erase it, red, back to its start, retitle
SPOOF_SHOWN = "a\\x1b[1A\\x1b[2K\\x1b[31mb\\x1b[0m\\r\\x1b]0;t\\x07\\x9b2J"


def _outside_controls(err: str) -> list[str]:
    """The terminal controls in `err` that no progress bar wrote (`_BAR_MOVES`'s, each at a write's start)."""
    bars = re.sub(r"(\x1b\[A)+|\r(\x1b\[K)?", "", err)
    return re.findall(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", bars)


@pytest.mark.parametrize("bars", [True, False])
def test_names_with_cursor_moves_and_colours_are_printed_escaped_bars_on_or_off(
    bars, model_dir, tmp_path, monkeypatch, capsys
):
    """A progress bar's sequences (a cursor moved up, a line erased, colours) were let through wherever they were: a
    file named `a<ESC>[1A<ESC>[2K...` moved the cursor up and erased the line above when its error was printed, the
    line said before rewritten (a summary, another error). They are escaped in names now, bars drawn or not; the
    bars' own moves are kept."""
    monkeypatch.setattr(sys, "stderr", console.StderrReaderGone(sys.stderr))  # as the programs' (`tolerant_output`)
    monkeypatch.setattr(sys, "stdout", console.CheckedStdout(sys.stdout))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: bars)
    folder = tmp_path / f"in{SPOOF}"
    _image_folder(folder)
    (folder / f"{SPOOF}.png").write_bytes(b"not an image")
    model = ["--model", str(model_dir), *([] if bars else ["--no-progress"])]
    assert main(["restore", str(folder), "-o", str(tmp_path / "out"), *model]) == 1
    err = capsys.readouterr().err
    assert f"error: {tmp_path}/in{SPOOF_SHOWN}/{SPOOF_SHOWN}.png: not a readable image" in err
    assert "failed 1" in err and ("|" in err) == bars and not _outside_controls(err), err
    clean = tmp_path / f"set{SPOOF}"  # a test set named so: its bar's description, its table's title
    _image_folder(clean)
    assert main(["eval", "--dataset", str(clean), *model]) == 0
    out, err = capsys.readouterr()
    assert f"set{SPOOF_SHOWN}" in out and not _outside_controls(out + err), err
    assert (f"evaluating set{SPOOF_SHOWN}" in err) == bars
    with progress_lines.progress_bar(True, total=1, desc=SPOOF) as bar:  # escaped before tqdm measures the line
        assert bar.desc == SPOOF_SHOWN


def test_a_name_with_newlines_or_tabs_stays_on_its_line_in_restore_and_eval(model_dir, tmp_path, capsys):
    """Newlines and tabs lay out the commands' messages, so they were printed raw in names too: a file named
    "c\\nrestored 3, failed 0 ..." forged a summary line of its own. In a name they are escaped (`\\n`, `\\t`), as
    other controls are; the messages' own lines stay."""
    folder = tmp_path / "in"
    _image_folder(folder)
    forged = "\nrestored 3, failed 0, skipped 0 existing\t→ done"
    (folder / f"c{forged}.png").write_bytes(b"not an image")
    (folder / f"notes{forged}.txt").write_text("not an image either")
    shown = "\\nrestored 3, failed 0, skipped 0 existing\\t→ done"
    out = tmp_path / "out\tput"
    assert main(["restore", str(folder), "-o", str(out), "--model", str(model_dir), "--no-progress"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and not any("\t" in line or line.startswith("restored 3, failed 0") for line in lines), lines
    assert lines[0].startswith("note: left out 1 file that is not an image") and f"(notes{shown}.txt)" in lines[0]
    assert lines[1].startswith(f"error: {folder}/c{shown}.png: not a readable image")
    assert lines[2].startswith(f"restored 3, failed 1, skipped 0 existing → {tmp_path}/out\\tput in ")
    evaluate = ["eval", "--dataset", str(folder), "--model", str(model_dir), "--verbose", "--no-progress"]
    assert main(evaluate) == 1  # a test set's unreadable image: its error, on one line
    assert capsys.readouterr().err.splitlines()[-1].startswith(f"error: {folder}/c{shown}.png: not a readable image")
    (folder / f"c{forged}.png").unlink()
    Image.open(folder / "a.png").save(folder / f"d{forged}.png")  # a real image: a row of eval's table
    assert main(evaluate) == 0
    table = capsys.readouterr().out.splitlines()
    assert sum(line.startswith(f"| d{shown} | ") for line in table) == 2  # bicubic's row and the model's
    assert not any(line.startswith(("restored", "\t")) or line.count("|") not in (0, 7) for line in table), table


def test_the_programs_turn_pythons_colours_off_which_their_streams_would_print_escaped(monkeypatch, tmp_path):
    """Python 3.13+ colours a traceback on a terminal (3.14 argparse's help too): through the programs' streams, which
    escape colours since names' are (`_stream_safe`), every one read `\\x1b[35m`, the traceback barely legible. The
    programs now ask Python for none (PYTHON_COLORS=0, even where a user asked for them), as 3.12 printed them."""
    for name in ("stdout", "stderr", "excepthook"):  # put back after the test
        monkeypatch.setattr(sys, name, getattr(sys, name))
    monkeypatch.setenv("PYTHON_COLORS", "1")
    console.tolerant_output()
    assert console.os.environ["PYTHON_COLORS"] == "0"
    if sys.version_info >= (3, 13):  # a program's traceback, as a terminal would colour it (FORCE_COLOR)
        code = "from swinir_hf import console; console.tolerant_output(); raise RuntimeError('boom')"
        env = {**console.os.environ, "FORCE_COLOR": "1", "PYTHON_COLORS": "1"}
        err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120).stderr
        assert err.endswith("RuntimeError: boom\n") and "\\x1b[" not in err, err
