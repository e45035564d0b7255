"""`swinir-hf restore`: folders / globs, bad files reported and skipped, inputs never overwritten."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from swinir_hf import SwinIRForImageRestoration
from swinir_hf.cli import main
from swinir_hf.storage.atomic_writes import process_tag


@pytest.fixture(scope="module")
def model_dir(tiny_config, tmp_path_factory):
    path = tmp_path_factory.mktemp("model")
    SwinIRForImageRestoration(tiny_config()).save_pretrained(path)
    return path


def _snapshot(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(folder / "good.png")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + rng.bytes(200))
    (folder / "notes.txt").write_text("not an image\n")
    return folder


def test_bad_files_are_reported_and_skipped(inputs, model_dir, tmp_path, capsys):
    before = _snapshot(inputs)
    out = tmp_path / "out"
    code = main(["restore", str(inputs), "-o", str(out), "--model", str(model_dir), "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("error:") == 1 and f"error: {inputs / 'corrupt.jpg'}: not a readable image" in err
    assert "note: left out 1 file that is not an image in the input folders (notes.txt); name a file to try it\n" in err
    assert sorted(p.name for p in out.iterdir()) == ["good.png"]
    assert Image.open(out / "good.png").size == (20, 24)
    assert _snapshot(inputs) == before


@pytest.mark.parametrize("quiet", ["-q", "--quiet"])
def test_quiet_says_the_errors_alone_and_draws_no_bar(quiet, inputs, model_dir, tmp_path, capsys):
    """`-q` went to accelerate's launcher (a `-q` of its own): a launch that printed its note of the defaults it
    took, every bar and the summary, with exit status 0."""
    argv = ["restore", str(inputs), "-o", str(tmp_path / "out"), "--model", str(model_dir), quiet]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {inputs / 'corrupt.jpg'}: not a readable image") and err.count("\n") == 1
    assert (tmp_path / "out" / "good.png").is_file()


def test_tqdm_disable_turns_the_restore_bar_off(tqdm_environment, inputs, model_dir, tmp_path, capsys):
    (inputs / "corrupt.jpg").unlink()
    tqdm_environment(disable=True)  # TQDM_DISABLE=1
    assert main(["restore", str(inputs), "-o", str(tmp_path / "out"), "--model", str(model_dir)]) == 0
    assert "restore:" not in capsys.readouterr().err


def test_a_folders_files_that_are_not_images_neither_fail_a_run_nor_take_a_photos_name(inputs, model_dir, capsys):
    """A camera folder's sidecar and RAW files (IMG_1.xmp, IMG_1.CR2) were inputs: each failed every run (exit 1
    forever), and their output name, IMG_1.png, clashed with the JPEG's, so the photo was not restored either. A
    folder is now read for images only, the others named in a note; a file named on the command line is tried."""
    (inputs / "corrupt.jpg").unlink()
    Image.open(inputs / "good.png").save(inputs / "IMG_1.JPG")
    (inputs / "IMG_1.xmp").write_text("<x:xmpmeta/>")
    (inputs / "IMG_1.CR2").write_bytes(b"II*\x00" + bytes(200))
    out = inputs.parent / "out"
    args = ["restore", str(inputs), "-o", str(out), "--model", str(model_dir), "--no-progress"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "note: left out 3 files that are not images in the input folders (IMG_1.CR2, IMG_1.xmp and notes.txt)" in err
    assert "error" not in err and sorted(p.name for p in out.iterdir()) == ["IMG_1.png", "good.png"]
    assert main(["restore", str(inputs / "IMG_1.xmp"), "-o", str(out.parent / "named"), *args[4:]]) == 1  # tried
    assert f"error: {inputs / 'IMG_1.xmp'}: not a readable image" in capsys.readouterr().err


def test_never_overwrites_an_input_and_skips_existing(inputs, model_dir, capsys):
    (inputs / "corrupt.jpg").unlink()
    (inputs / "notes.txt").unlink()
    before = _snapshot(inputs)
    args = ["restore", str(inputs / "*.png"), "-o", str(inputs), "--model", str(model_dir), "--no-progress"]
    assert main(args) == 1
    assert "would overwrite an input" in capsys.readouterr().err
    assert _snapshot(inputs) == before
    assert main(args + ["--suffix", "_x2", "--ext", "jpg"]) == 0
    assert Image.open(inputs / "good_x2.jpg").size == (20, 24)
    written = (inputs / "good_x2.jpg").stat().st_mtime_ns
    assert main(args + ["--suffix", "_x2", "--ext", "jpg"]) == 0
    assert (inputs / "good_x2.jpg").stat().st_mtime_ns == written


def test_a_fifo_or_a_dangling_link_among_the_inputs_is_reported_not_opened(inputs, model_dir, tmp_path, capsys):
    """Left out without a word before (a FIFO, if opened, would wait for a writer forever)."""
    (inputs / "corrupt.jpg").unlink()
    (inputs / "notes.txt").unlink()
    os.mkfifo(inputs / "pipe.png")
    (inputs / "gone.png").symlink_to(tmp_path / "deleted.png")
    out = tmp_path / "out"
    assert main(["restore", str(inputs), "-o", str(out), "--model", str(model_dir), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"error: {inputs / 'pipe.png'}: not a regular file (a FIFO, socket or device): skipped\n" in err
    assert f"error: {inputs / 'gone.png'}: a symlink to nothing ({tmp_path / 'deleted.png'}): skipped\n" in err
    assert "restored 1, failed 2" in err and sorted(p.name for p in out.iterdir()) == ["good.png"]


def test_an_output_name_that_is_a_symlink_is_replaced_not_followed(inputs, model_dir, tmp_path, capsys):
    """A link in -o at an output's name (to a user's photo, or dangling) is never written through: it counts as an
    existing output, and --overwrite replaces the link itself with the result, leaving its target as it was; a
    linked sub-folder is refused."""
    (inputs / "corrupt.jpg").unlink()
    (inputs / "notes.txt").unlink()
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (7, 5), "red").save(photos / "holiday.png")
    before = _snapshot(photos)
    out = tmp_path / "out"
    out.mkdir()
    (out / "good.png").symlink_to(photos / "holiday.png")
    args = ["restore", str(inputs), "-o", str(out), "--model", str(model_dir), "--no-progress"]
    assert main(args) == 1  # the photo is not of the size this run makes: refused, as existing outputs are
    assert "(good.png: 7×5, this run: 20×24): --overwrite replaces it" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    assert not (out / "good.png").is_symlink() and Image.open(out / "good.png").size == (20, 24)
    assert _snapshot(photos) == before
    (out / "good.png").unlink()
    (out / "good.png").symlink_to(photos / "new.png")  # dangling: the write would create a file outside -o
    assert main(args) == 0
    assert not (photos / "new.png").exists() and (out / "good.png").is_symlink()
    # A sub-folder of -o that is a link (to the photos, or dangling) is refused, not written through.
    (inputs / "sub").mkdir()
    (inputs / "good.png").rename(inputs / "sub" / "holiday.png")
    deep = tmp_path / "deep"
    deep.mkdir()
    (deep / "sub").symlink_to(photos)
    command = ["restore", str(inputs), "-o", str(deep), "--recursive", "--overwrite", "--model", str(model_dir)]
    assert main([*command, "--no-progress"]) == 1
    assert f"{deep / 'sub'} is a symlink, and -o is not written through links" in capsys.readouterr().err
    assert _snapshot(photos) == before


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_ctrl_c_keeps_finished_outputs_and_a_rerun_does_the_rest(stop, model_dir, tmp_path, capsys, monkeypatch):
    """Ctrl-C, or SIGTERM (a scheduler preempting the job), stops with one line and keeps what is finished."""
    handler = signal.getsignal(signal.SIGTERM)
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name in "abc":
        Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    forward = SwinIRForImageRestoration.forward
    calls = []

    def interrupted_at_the_second_image(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2 and stop == "SIGINT":
            raise KeyboardInterrupt
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # handled at once, in this (the main) thread
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(SwinIRForImageRestoration, "forward", interrupted_at_the_second_image)
    args = ["restore", str(folder), "-o", str(out), "--model", str(model_dir), "--no-progress"]
    assert main(args) == {"SIGINT": 130, "SIGTERM": 143}[stop]
    out_text, err = capsys.readouterr()
    how = {"SIGINT": "interrupted", "SIGTERM": "terminated (SIGTERM)"}[stop]
    assert f"{how}: finished outputs are kept; run the same command again" in err and "Traceback" not in err
    assert out_text == f"{out / 'a.png'}\n"  # said as it was written, by a run that never reached its end
    assert signal.getsignal(signal.SIGTERM) is handler  # the command's own handler is gone with it
    assert [p.name for p in out.iterdir()] == ["a.png"] and Image.open(out / "a.png").size == (20, 24)
    monkeypatch.setattr(SwinIRForImageRestoration, "forward", forward)
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png"]
    assert "restored 2, failed 0, skipped 1 existing" in capsys.readouterr().err


def test_ctrl_c_before_any_output_is_written_says_so(model_dir, tmp_path, capsys, monkeypatch):
    """It said "finished outputs are kept" with none finished (a Ctrl-C at the first image, or while the model
    loaded)."""
    Image.new("RGB", (10, 12), "red").save(tmp_path / "a.png")

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(SwinIRForImageRestoration, "forward", interrupted)
    args = ["restore", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--model", str(model_dir), "-q"]
    assert main(args) == 130
    assert capsys.readouterr() == ("", "interrupted before any output was written; run the same command again\n")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_each_output_is_said_on_stdout_under_minus_o_as_given(inputs, model_dir, tmp_path, capsys, monkeypatch):
    """stdout was empty: `swinir-hf restore *.jpg -o out | xargs ...` got nothing. Each output's path is said, as -o
    was given (relative here); on a rerun, the outputs skipped as existing too: every output of the command."""
    (inputs / "corrupt.jpg").unlink()
    Image.new("L", (10, 12), 128).save(inputs / "grey.png")
    monkeypatch.chdir(tmp_path)
    args = ["restore", "in", "-o", "out", "--model", str(model_dir), "--no-progress"]
    assert main(args) == 0
    printed, err = capsys.readouterr()
    assert sorted(printed.splitlines()) == ["out/good.png", "out/grey.png"] and "restored 2, failed 0" in err
    (tmp_path / "out" / "grey.png").unlink()
    assert main([*args, "-q"]) == 0  # -q: no notes, but the results all the same
    assert capsys.readouterr() == ("out/good.png\nout/grey.png\n", "")  # the one existing first, then those written


def test_a_reader_of_the_output_paths_that_has_gone_stops_them_not_the_run(inputs, model_dir, monkeypatch):
    """`swinir-hf restore in -o out | head -1`: the paths on stdout are the run's one thing that the reader's leaving
    stops; the files are written and counted (not failed by the closed pipe)."""
    from swinir_hf.inference import collection_cli

    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    gone = []
    monkeypatch.setattr(collection_cli, "stdout_gone", lambda: gone.append(1))  # not the test's own fd 1
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    Image.new("RGB", (10, 12), "red").save(inputs / "red.png")
    (inputs / "corrupt.jpg").unlink()
    out = inputs.parent / "out"
    assert main(["restore", str(inputs), "-o", str(out), "--model", str(model_dir), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["good.png", "red.png"] and gone


def test_recursive_keeps_sub_folders(inputs, model_dir, tmp_path):
    (inputs / "sub").mkdir()
    Image.open(inputs / "good.png").convert("L").save(inputs / "sub" / "grey.png")
    out = tmp_path / "out"
    args = ["restore", str(inputs), "-o", str(out), "--model", str(model_dir), "--no-progress", "--recursive"]
    assert main(args) == 1  # the two bad files still fail
    assert Image.open(out / "sub" / "grey.png").mode == "L"


def test_missing_input_and_model_are_clean_errors(model_dir, tmp_path, capsys):
    assert main(["restore", str(tmp_path / "nope*.png"), "-o", str(tmp_path), "--model", str(model_dir)]) == 1
    assert "no such file" in capsys.readouterr().err
    Image.new("RGB", (8, 8)).save(tmp_path / "x.png")  # an input that exists: the model is what is missing
    assert main(["restore", str(tmp_path), "-o", str(tmp_path / "o"), "--model", str(tmp_path / "m.pth")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_corrupt_16bit_colour_files_are_reported_and_skipped(inputs, model_dir, tmp_path, capsys):
    import png
    import tifffile

    (inputs / "corrupt.jpg").unlink()
    (inputs / "notes.txt").unlink()
    pixels = np.random.default_rng(1).integers(0, 65536, (6, 7, 3), dtype=np.uint16)
    with open(inputs / "c.png", "wb") as f:
        png.Writer(7, 6, greyscale=False, bitdepth=16).write(f, pixels.reshape(6, -1))
    data = bytearray((inputs / "c.png").read_bytes())
    data[-20] ^= 0xFF  # inside the IDAT chunk: its checksum fails
    (inputs / "crc.png").write_bytes(bytes(data))
    tifffile.imwrite(inputs / "c.tif", pixels, photometric="rgb")
    (inputs / "short.tif").write_bytes((inputs / "c.tif").read_bytes()[:-100])
    out = tmp_path / "out"
    code = main(["restore", str(inputs), "-o", str(out), "--model", str(model_dir), "--no-progress", "--ext", "auto"])
    err = capsys.readouterr().err
    assert code == 1
    for name in ("crc.png", "short.tif"):
        assert f"error: {inputs / name}: not a readable image (" in err
    assert sorted(p.name for p in out.iterdir()) == ["c.png", "c.tif", "good.png"]


def test_damaged_multi_frame_files_are_reported_and_the_run_goes_on(inputs, model_dir, tmp_path, capsys):
    """A multi-page TIFF or an animated GIF cut short in its first frame (an interrupted download): decoding it
    fails with whatever Pillow raises (OSError, TypeError, IndexError...): one line for that file, not a traceback
    that ends the run. (Cut past its first frame, it is restored from that: test_reliability.)"""
    import tifffile

    (inputs / "corrupt.jpg").unlink()
    (inputs / "notes.txt").unlink()
    rng = np.random.default_rng(2)
    pages = [Image.fromarray(rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)) for _ in range(3)]
    pages[0].save(tmp_path / "pages.tif", save_all=True, append_images=pages[1:])
    pages[0].save(tmp_path / "anim.gif", save_all=True, append_images=pages[1:])
    for name, cut in (("pages.tif", 0.25), ("anim.gif", 0.25)):  # within the first frame
        data = (tmp_path / name).read_bytes()
        (inputs / name).write_bytes(data[: int(len(data) * cut)])
    deep = rng.integers(0, 65536, (40, 40), dtype=np.uint16)  # a 16-bit grey TIFF cut short
    tifffile.imwrite(tmp_path / "deep.tif", deep)
    (inputs / "deep.tif").write_bytes((tmp_path / "deep.tif").read_bytes()[:2000])
    (inputs / "huge.pgm").write_bytes(b"P5\n25599999999 2\n255\n" + bytes(10))  # Pillow's message is bytes
    out = tmp_path / "out"
    code = main(["restore", str(inputs), "-o", str(out), "--model", str(model_dir), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err, err
    for name in ("pages.tif", "anim.gif", "deep.tif"):
        assert f"error: {inputs / name}: not a readable image (" in err, name
    assert f"error: {inputs / 'huge.pgm'}: not a readable image (Token too long in file header: 25599999999)" in err
    assert "restored 1, failed 4" in err
    assert sorted(p.name for p in out.iterdir()) == ["good.png"]


def test_an_output_folder_that_is_a_file_is_one_error_up_front(inputs, model_dir, tmp_path, capsys):
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"x")
    for out, extra in ((taken, []), (taken / "sub", []), (taken, ["--dataset", f"imagefolder:{inputs}"])):
        args = ["restore", *([] if extra else [str(inputs)]), "-o", str(out), "--model", str(model_dir), *extra]
        assert main(args) == 1
        err = capsys.readouterr().err
        where = "" if out == taken else f" ({taken} is a file)"
        assert err == f"error: output folder {out} is not a folder{where}: choose another -o\n"
    assert taken.read_bytes() == b"x"


def test_no_progress_shows_no_bar_not_even_transformers_weight_loading(inputs, model_dir, tmp_path, capsys):
    from transformers.utils import logging as hf_logging

    (inputs / "corrupt.jpg").unlink()
    (inputs / "notes.txt").unlink()
    args = ["restore", str(inputs), "-o", str(tmp_path / "out"), "--model", str(model_dir), "--no-progress"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and err.startswith("restored 1, failed 0") and err.count("\n") == 1
    assert hf_logging.is_progress_bar_enabled()  # as before the run


def test_a_run_whose_stderr_reader_has_gone_goes_on_and_says_its_status(inputs, model_dir, tmp_path):
    """`swinir-hf restore in -o out 2>&1 | head -1`: the first message or progress bar after the reader left raised
    BrokenPipeError, taken for stdout's, and the run ended at once, nothing written, exit status 0."""
    code = "import sys; from swinir_hf.cli import main; sys.exit(main())"
    out = tmp_path / "out"
    args = ["restore", str(inputs), "-o", str(out), "--model", str(model_dir)]  # with its progress bar
    run = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run.stderr.close()  # the reader has gone before the first line
    assert run.wait(timeout=120) == 1  # corrupt.jpg failed: said by the status, which was 0
    assert sorted(p.name for p in out.iterdir()) == ["good.png"]


def test_a_glob_keeps_the_folders_below_its_fixed_part(model_dir, tmp_path, capsys):
    """`photos/**/*.png` keeps `2023/a.png` and `2024/a.png` apart, as `photos --recursive` does."""
    photos = tmp_path / "photos"
    rng = np.random.default_rng(2)
    for sub in ("2023", "2024", "2024/raw"):
        (photos / sub).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(photos / sub / "a.png")
    for pattern, recursive, found in (
        ("**/*.png", ["--recursive"], ["2023/a.png", "2024/a.png", "2024/raw/a.png"]),
        ("**/*.png", [], ["2023/a.png", "2024/a.png", "2024/raw/a.png"]),  # ** says it: no --recursive needed
        ("*/a.png", [], ["2023/a.png", "2024/a.png"]),
        ("2024/*", [], ["a.png"]),  # the fixed part is photos/2024
    ):
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        args = ["restore", str(photos / pattern), "-o", str(out), "--model", str(model_dir), "--no-progress"]
        assert main(args + recursive) == 0, capsys.readouterr().err
        assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == found


def test_a_glob_round_a_symlink_loop_keeps_each_files_plain_path(model_dir, tmp_path, capsys):
    """`root/**/*.png` with `root/sub/loop -> ..`: glob follows the loop (122 matches of 3 files), and each file kept
    its deepest path, writing -o/sub/loop/sub/loop/.../a.png, ~40 folders deep. Now the path through the fewest
    symlinked folders: a linked folder's files go to its own name (linked/b.png)."""
    root, other = tmp_path / "root", tmp_path / "other"
    (root / "sub").mkdir(parents=True)
    other.mkdir()
    rng = np.random.default_rng(3)
    for path in (root / "a.png", root / "sub" / "c.png", other / "b.png"):
        Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(path)
    (root / "sub" / "loop").symlink_to("..")
    (root / "linked").symlink_to(other)
    out = tmp_path / "out"
    args = ["restore", str(root / "**" / "*.png"), "-o", str(out), "--model", str(model_dir), "--no-progress"]
    assert main(args) == 0, capsys.readouterr().err
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["a.png", "linked/b.png", "sub/c.png"]


def test_a_glob_round_a_loop_with_another_link_in_reach_ends(tmp_path, monkeypatch):
    """`sl/**/*.png` with `sl/sub/loop -> ..` and `sl/sub2 -> sub`: glob's paths doubled at each turn of the loop
    (580,000 in a minute, ~40 turns deep) and the run never ended. Each real folder is listed once."""
    from swinir_hf.inference.files import collect_inputs

    (tmp_path / "sl" / "sub").mkdir(parents=True)
    for path in (tmp_path / "sl" / "a.png", tmp_path / "sl" / "sub" / "c.png"):
        path.write_bytes(b"")
    (tmp_path / "sl" / "sub" / "loop").symlink_to("..")
    (tmp_path / "sl" / "sub2").symlink_to("sub")
    monkeypatch.chdir(tmp_path)

    def too_long(*_):
        raise TimeoutError("the glob did not end in 30 s")

    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(30)
    try:
        collected = collect_inputs(["sl/**/*.png"])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert [str(rel) for _, rel in collected.files] == ["a.png", "sub/c.png"]  # not sub2/c.png: no link on the way


def test_a_deep_glob_matches_what_globs_match_through_links_and_at_the_last_part(tmp_path, monkeypatch):
    """Each real folder listed once must not lose a file that only a linked path to it matches (`**/sub/*.png` with
    `x/sub -> ../real`), nor let a part before `**` match a file (`*/**` matched top.png); a trailing `/` is for
    folders. The same files as Python's glob finds (by their real names)."""
    import glob

    from swinir_hf.inference.files import _real_name, deep_glob

    for path in ("photos/real/c.png", "photos/top.png", "photos/a/b/z.png", "photos/a/.hidden/h.png", "photos/a/y.png"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"")
    (tmp_path / "photos" / "x").mkdir()
    (tmp_path / "photos" / "x" / "sub").symlink_to("../real")
    monkeypatch.chdir(tmp_path)
    cases = {
        "photos/**/sub/*.png": ["photos/x/sub/c.png"],
        "p*/**/*.png": ["photos/a/b/z.png", "photos/a/y.png", "photos/real/c.png", "photos/top.png"],
        "photos/*/**": ["photos/a/b/z.png", "photos/a/y.png", "photos/real/c.png"],
        "photos/*.png/**": [],
        "photos/**/": [],
        "photos/**/.hidden/*.png": ["photos/a/.hidden/h.png"],
    }
    for pattern, expected in cases.items():
        found = sorted(str(path) for path in deep_glob(pattern))
        assert found == expected, pattern
        globbed = {_real_name(Path(m)) for m in glob.glob(pattern, recursive=True) if not Path(m).is_dir()}
        assert {_real_name(path) for path in deep_glob(pattern)} == globbed, pattern


def test_an_output_folder_inside_the_input_folder_is_not_read_as_inputs(model_dir, tmp_path, capsys):
    """`photos --recursive -o photos/restored` again with another --ext restored the first run's outputs (×4 of ×4):
    they were recognised by name and format only. What lies in -o below the input folder is an earlier output."""
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(4)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(photos / name)
    out = photos / "restored"
    args = ["restore", str(photos), "-o", str(out), "--recursive", "--model", str(model_dir), "--no-progress"]
    assert main([*args, "--ext", "jpg"]) == 0
    capsys.readouterr()
    assert main([*args, "--ext", "png"]) == 0
    assert "not re-processing 2 earlier outputs (a.jpg, b.jpg)" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "a.png", "b.jpg", "b.png"]
    glob = ["restore", str(photos / "**" / "*.*"), "-o", str(out), "--model", str(model_dir), "--no-progress"]
    assert main([*glob, "--ext", "webp"]) == 0  # a glob's matches in -o alike
    assert "not re-processing 4 earlier outputs" in capsys.readouterr().err
    named = ["restore", str(out / "a.jpg"), "-o", str(out), "--suffix", "_again", "--model", str(model_dir)]
    assert main([*named, "--no-progress"]) == 0 and (out / "a_again.png").exists()  # a file named is an input
    # A folder linked into the inputs is the user's, even where it points into -o (its files were taken for outputs)
    (tmp_path / "mnt" / "phone" / "DCIM").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(tmp_path / "mnt" / "phone" / "DCIM" / "x.png")
    (photos / "2024").mkdir()
    (photos / "2024" / "phone").symlink_to(tmp_path / "mnt" / "phone" / "DCIM")
    linked = ["restore", str(photos / "**" / "x.png"), "-o", str(tmp_path / "mnt" / "phone"), "--model", str(model_dir)]
    assert main([*linked, "--no-progress"]) == 0
    assert (
        "not re-processing" not in capsys.readouterr().err
        and (tmp_path / "mnt" / "phone" / "2024" / "phone" / "x.png").exists()
    )


def test_no_input_and_two_kinds_of_input_get_their_own_messages(inputs, model_dir, tmp_path, capsys):
    out = ["-o", str(tmp_path / "out"), "--model", str(model_dir)]
    assert main(["restore", *out]) == 2  # a usage error, as argparse's
    said = "nothing to restore: give image files, folders or globs (or --dataset)"
    assert capsys.readouterr().err == f"swinir-hf restore: error: {said}\n"
    assert main(["restore", str(inputs), "--dataset", f"imagefolder:{inputs}", *out]) == 2
    said = "give image files / folders / globs, or --dataset, not both"
    assert capsys.readouterr().err == f"swinir-hf restore: error: {said}\n"
    assert not (tmp_path / "out").exists()


def test_an_output_folder_named_dash_is_refused_not_made(tmp_path, monkeypatch, capsys):
    """`-o -` (standard output, as `eval --json -`) made a folder named `-` and restored into it without a word."""
    monkeypatch.chdir(tmp_path)
    assert main(["restore", "a.png", "-o", "-"]) == 2
    said = "-o -: the restored images are files written into a folder, not to standard output; give a folder (./-)"
    assert capsys.readouterr().err == f"swinir-hf restore: error: {said}\n"
    assert not (tmp_path / "-").exists()


def test_real_esrgan_spellings_i_s_t_work(inputs, model_dir, tmp_path):
    """`-i IN -o OUT -s 3 -t 0`, as Real-ESRGAN's inference script takes them; -i may be repeated."""
    (inputs / "corrupt.jpg").unlink()
    (inputs / "notes.txt").unlink()
    Image.open(inputs / "good.png").save(tmp_path / "other.png")
    out = tmp_path / "out"
    args = ["restore", "-i", str(inputs), "-i", str(tmp_path / "other.png"), "-o", str(out), "-s", "3", "-t", "0"]
    assert main([*args, "--model", str(model_dir), "--no-progress"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["good.png", "other.png"]
    assert Image.open(out / "good.png").size == (30, 36)


def test_an_unreadable_input_folder_is_one_line_not_a_traceback(inputs, model_dir, tmp_path, monkeypatch, capsys):
    listing = Path.iterdir

    def refuse(self):  # as a folder without read permission does for a user other than root
        if self == inputs:
            raise PermissionError(13, "Permission denied", str(self))
        return listing(self)

    monkeypatch.setattr(Path, "iterdir", refuse)
    assert main(["restore", str(inputs), "-o", str(tmp_path / "out"), "--model", str(model_dir)]) == 1
    assert capsys.readouterr().err == f"error: cannot read folder {inputs}: Permission denied\n"


def test_an_image_file_name_as_output_folder_is_refused(inputs, model_dir, tmp_path, capsys):
    """realesrgan-ncnn-vulkan takes `-o out.png` for one file; here -o is a folder, which would be named out.png."""
    args = ["restore", str(inputs / "good.png"), "-o", str(tmp_path / "good_x2.PNG"), "--model", str(model_dir)]
    assert main(args) == 1
    assert capsys.readouterr().err == (
        f"error: -o {tmp_path / 'good_x2.PNG'} looks like an image file's name, but -o is the output folder: outputs "
        "are named after their inputs (--suffix and --ext change that); to use this name for a folder, create it "
        "first\n"
    )
    assert not (tmp_path / "good_x2.PNG").exists()
    (tmp_path / "good_x2.PNG").mkdir()  # a folder of that name that exists is taken as asked
    assert main([*args, "--no-progress"]) == 0
    assert (tmp_path / "good_x2.PNG" / "good.png").is_file()


def test_an_output_folder_without_write_permission_is_refused_before_the_model_loads(
    inputs, model_dir, tmp_path, monkeypatch, capsys
):
    from swinir_hf.inference.collection import ModelEngine

    (inputs / "corrupt.jpg").unlink()
    (inputs / "notes.txt").unlink()
    locked = tmp_path / "locked"
    locked.mkdir()
    access = os.access
    # As a read-only mount, or a folder without write permission for a user other than root, answers.
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != locked and access(path, mode, **kw))
    monkeypatch.setattr(ModelEngine, "build", lambda *a, **k: pytest.fail("the model was loaded"))
    for out in (locked, locked / "new" / "sub"):
        assert main(["restore", str(inputs), "-o", str(out), "--model", str(model_dir)]) == 1
        where = "" if out == locked else f" ({locked} is not writable)"
        assert capsys.readouterr().err == f"error: cannot write into output folder {out}{where}: choose another -o\n"
    assert list(locked.iterdir()) == []


def test_an_input_or_output_path_with_a_name_over_255_bytes_is_one_error_line(inputs, model_dir, tmp_path, capsys):
    long = tmp_path / ("x" * 300)
    for args, message in (
        ([str(long), "-o", str(tmp_path / "out")], f"input {long}: a name in it is 300 bytes"),
        ([str(inputs), "-o", str(long / "sub")], f"output folder {long / 'sub'}: a name in it is 300 bytes"),
    ):
        assert main(["restore", *args, "--model", str(model_dir)]) == 1
        assert capsys.readouterr().err == f"error: {message}, more than the 255 a file name may have\n"


def test_help_names_option_values_as_the_docs_do(capsys):
    with pytest.raises(SystemExit):
        main(["restore", "--help"])
    usage = " ".join(capsys.readouterr().out.split())
    for shown in ("-o OUT", "--model M", "-t N|auto", "--tile-overlap N", "-s F", "--suffix S", "--quality Q"):
        assert f"[{shown}]" in usage or f" {shown} " in usage, shown


def _camera_exif(width: int, height: int) -> Image.Exif:
    """A phone photo's EXIF: camera, date, exposure, GPS, and what a restored copy makes untrue."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "Pixel", "Pixel 9", "2026:05:01 10:00:00"
    exif[0x0112] = 6  # stored sideways
    exif[0x8769] = {0x9003: "2026:05:01 10:00:00", 0x829A: (1, 125), 0xA002: width, 0xA003: height, 0x927C: b"\1" * 40}
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.5)}
    return exif


@pytest.mark.parametrize("ext", ["jpg", "png", "webp"])
def test_a_photos_exif_is_kept_but_for_what_the_output_makes_untrue(model_dir, tmp_path, ext):
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(src / "p.jpg", exif=_camera_exif(12, 10))
    out = tmp_path / "out"
    assert main(["restore", str(src), "-o", str(out), "--ext", ext, "--model", str(model_dir), "--no-progress"]) == 0
    with Image.open(out / f"p.{ext}") as restored:
        exif = restored.getexif()
        assert restored.size == (20, 24)  # upright (turned by the orientation), ×2
    assert (exif[0x010F], exif[0x0110], exif[0x0132]) == ("Pixel", "Pixel 9", "2026:05:01 10:00:00")
    assert 0x0112 not in exif  # applied: an output still saying "turn me" would be shown turned twice
    assert exif.get_ifd(0x8769) == {0x9003: "2026:05:01 10:00:00", 0x829A: (1, 125)}  # no size, no maker note
    assert exif.get_ifd(0x8825) == {1: "N", 2: (52.0, 31.0, 12.5)}


def test_exif_in_16_bit_pngs_and_none_from_a_tiffs_storage_tags_or_damaged_exif(model_dir, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(2)
    deep = rng.integers(0, 65536, (10, 12, 3), dtype=np.uint16)
    import png

    with open(src / "deep.png", "wb") as f:  # a 16-bit colour PNG with an eXIf chunk
        png.Writer(12, 10, greyscale=False, bitdepth=16).write(f, deep.reshape(10, 36))
    chunks = list(png.Reader(filename=str(src / "deep.png")).chunks())
    block = _camera_exif(12, 10).tobytes().removeprefix(b"Exif\0\0")
    with open(src / "deep.png", "wb") as f:
        png.write_chunks(f, chunks[:1] + [(b"eXIf", block)] + chunks[1:])
    grey = Image.fromarray(rng.integers(0, 256, (10, 12), dtype=np.uint8))
    grey.save(src / "scan.tif", tiffinfo={0x010F: "Scanner Co", 0x0131: "scan app"})
    grey.save(src / "damaged.jpg", exif=b"Exif\0\0MM\0*\0\0\0\x08\xff\xff" + b"\0" * 6)  # an IFD of 65535 entries
    out = tmp_path / "out"
    assert main(["restore", str(src), "-o", str(out), "--ext", "png", "--model", str(model_dir), "--no-progress"]) == 0
    with Image.open(out / "deep.png") as restored:
        assert restored.mode == "RGB" and png.Reader(filename=str(out / "deep.png")).read()[3]["bitdepth"] == 16
        assert restored.size == (20, 24) and restored.getexif()[0x0110] == "Pixel 9"
        assert 0x0112 not in restored.getexif()
    with Image.open(out / "scan.png") as restored:  # described the scan, not how the TIFF stored it
        assert dict(restored.getexif()) == {0x010F: "Scanner Co", 0x0131: "scan app"}
    with Image.open(out / "damaged.png") as restored:
        assert restored.size == (24, 20) and "exif" not in restored.info


def test_exif_text_keeps_its_bytes_and_tifffiles_own_tags_are_not_a_photos(model_dir, tmp_path):
    """Found by a review: UTF-8 text (as exiftool and Lightroom write an artist's name) came back as "Jos??", and a
    16-bit TIFF this package wrote, restored again, gave its PNG tifffile's JSON shape as the description."""
    src = tmp_path / "in"
    src.mkdir()
    exif = Image.Exif()
    exif[0x013B], exif[0x8298] = "José Nuñez".encode(), "© 2024".encode()
    Image.new("RGB", (12, 10), (9, 99, 199)).save(src / "p.jpg", exif=exif)
    deep = np.random.default_rng(3).integers(0, 65536, (10, 12, 3), dtype=np.uint16)
    from swinir_hf.inference.image_writing import write_image

    write_image(src / "deep.tif", deep)  # as `restore --ext tif` writes 16-bit colour
    assert not {0x010E, 0x0131} & set(Image.open(src / "deep.tif").getexif())  # no description, no software
    import tifffile

    tifffile.imwrite(src / "other.tif", deep, photometric="rgb")  # tifffile's defaults: a JSON shape description
    out = tmp_path / "out"
    assert main(["restore", str(src), "-o", str(out), "--ext", "png", "--model", str(model_dir), "--no-progress"]) == 0
    kept = Image.open(out / "p.png").getexif()
    text = [kept[tag].encode("latin-1").decode() for tag in (0x013B, 0x8298)]  # Pillow reads bytes as Latin-1
    assert text == ["José Nuñez", "© 2024"]
    for name in ("deep.png", "other.png"):
        assert "exif" not in Image.open(out / name).info, name


def test_an_output_written_by_another_run_meanwhile_is_kept_not_replaced(inputs, model_dir, tmp_path, capsys):
    """Existing outputs are found when the run starts; one another run (or the user) writes while this one works is
    kept, as an existing one, with a note (it was replaced, and both runs claimed it); with --overwrite it is
    replaced. A killed writer's temporary file beside outputs that all exist is removed by a rerun that has nothing
    to do."""
    from unittest import mock

    from swinir_hf.inference import image_io

    (inputs / "corrupt.jpg").unlink()
    (inputs / "notes.txt").unlink()
    out = tmp_path / "out"
    read = image_io.read_image

    def another_run_writes_it(path):
        out.mkdir(exist_ok=True)
        (out / "good.png").write_bytes(b"theirs")
        return read(path)

    args = ["restore", str(inputs), "-o", str(out), "--model", str(model_dir), "--no-progress"]
    with mock.patch.object(image_io, "read_image", another_run_writes_it):
        assert main(args) == 0
    err = capsys.readouterr().err
    assert err.startswith(
        f"note: {inputs / 'good.png'}: {out / 'good.png'} was written by another run (or program) since this one "
        "started: kept; pass --overwrite to replace it\nrestored 0, failed 0, skipped 1 existing"
    )
    assert (out / "good.png").read_bytes() == b"theirs" and [p.name for p in out.iterdir()] == ["good.png"]
    with mock.patch.object(image_io, "read_image", another_run_writes_it):
        assert main([*args, "--overwrite"]) == 0
    assert Image.open(out / "good.png").size == (20, 24)

    # A folder whose outputs all exist, beside a killed writer's temporary file (a new folder: a process cleans
    # each folder once).
    done = tmp_path / "done"
    done.mkdir()
    (done / "good.png").write_bytes(b"earlier")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60
    )
    host = process_tag().rsplit("-", 1)[0]
    (done / f".swinir-{host}-{dead.stdout.strip()}-abcd1234-good.png").write_bytes(b"half")
    capsys.readouterr()
    assert main(["restore", str(inputs), "-o", str(done), "--model", str(model_dir), "--no-progress"]) == 0
    assert "skipped 1 existing" in capsys.readouterr().err
    assert [p.name for p in done.iterdir()] == ["good.png"]


def test_max_image_pixels_sets_pillows_decompression_bomb_limit(inputs, model_dir, tmp_path, monkeypatch, capsys):
    """A trusted image over Pillow's limit (here made 2 × 50 pixels; good.png has 120) is refused with what to do;
    `--max-image-pixels N` lets through up to 2N pixels (Pillow's rule), 0 any number. A negative one is a usage
    error, said before the model loads."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)
    (inputs / "corrupt.jpg").unlink()
    (inputs / "notes.txt").unlink()
    run = ["restore", str(inputs), "--model", str(model_dir), "--no-progress", "-o"]
    assert main([*run, str(tmp_path / "refused")]) == 1
    err = capsys.readouterr().err
    assert "good.png: too many pixels to decode safely" in err and "Pillow refuses images over 100 pixels" in err
    assert "swinir-hf restore --max-image-pixels N refuses over 2N; 0: none" in err
    assert main([*run, str(tmp_path / "too-few"), "--max-image-pixels", "59"]) == 1
    assert "Pillow refuses images over 118 pixels" in capsys.readouterr().err
    for n in ("60", "0"):
        assert main([*run, str(tmp_path / f"limit-{n}"), "--max-image-pixels", n]) == 0, capsys.readouterr().err
    # A rerun: its 480-pixel output is more than Pillow opens, whose header read was a DecompressionBombError traceback
    assert main([*run, str(tmp_path / "limit-60"), "--max-image-pixels", "60"]) == 0
    assert "restored 0, failed 0, skipped 1 existing" in capsys.readouterr().err
    assert main([*run, str(tmp_path / "negative"), "--max-image-pixels", "-1"]) == 2
    assert "--max-image-pixels must be a number of pixels, or 0 for no limit" in capsys.readouterr().err
    assert Image.MAX_IMAGE_PIXELS == 50  # the caller's limit, back after each run
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # to open the 480-pixel outputs
    assert [Image.open(tmp_path / f"limit-{n}" / "good.png").size for n in ("60", "0")] == [(20, 24)] * 2


def test_a_float_file_past_0_1_is_warned_of_once_by_name(model_dir, tmp_path, caplog):
    """The clamping of a float TIFF's output past [0, 1] is said once, naming the file, by `restore` as by the
    Python API (the warning moved from the reader to the restorers)."""
    import tifffile

    pixels = np.linspace(0, 1.5, 8 * 8 * 3, dtype=np.float32).reshape(8, 8, 3)
    tifffile.imwrite(tmp_path / "bright.tif", pixels, photometric="rgb")
    caplog.set_level("WARNING")
    args = [str(tmp_path / "bright.tif"), "-o", str(tmp_path / "out"), "--model", str(model_dir), "--no-progress"]
    assert main(["restore", *args]) == 0
    assert [m.split(": its values span [0, 1.5]")[0] for m in caplog.messages] == [str(tmp_path / "bright.tif")]


def test_workers_count_every_unreadable_image_in_the_summary(model_dir, tmp_path, capsys):
    """`--workers N` reads with N threads of one process, whose failures are counted where the images are taken in
    order: the summary's count is every broken image's, whichever thread read it (no count of a worker's own)."""
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(6):  # broken and good ones alternate: each reading thread gets some of both
        name = folder / f"{i}.png"
        if i % 2:
            name.write_bytes(b"broken")
        else:
            Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(name)
    args = ["restore", str(folder), "-o", str(tmp_path / "out"), "--model", str(model_dir), "--workers", "2"]
    assert main([*args, "--batch-size", "1", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count(": not a readable image") == 3 and "restored 3, failed 3, skipped 0 existing" in err


def test_the_engine_options_take_the_spellings_of_the_other_doors(capsys):
    """`--dtype bf16` (train.mixed_precision's spelling) and `--tile none` (the demo API's whole image) were refused
    by restore and eval, which took only bfloat16 and 0."""
    from swinir_hf.cli import build_parser

    for command in (["restore", "x", "-o", "y"], ["eval", "--model", "m", "--dataset", "d"]):
        for given, dtype in (("bf16", "bfloat16"), ("fp16", "float16"), ("fp32", "float32"), ("float32", "float32")):
            assert build_parser().parse_args([*command, "--dtype", given]).dtype == dtype
        for given, tile in (("none", None), ("None", None), ("0", None), ("AUTO", "auto"), ("64", 64)):
            assert build_parser().parse_args([*command, "--tile", given]).tile == tile
    with pytest.raises(SystemExit):
        main(["restore", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "bf16 = bfloat16, fp16 = float16, fp32 = float32;" in shown
    assert "or 0 / none for the whole image" in shown  # the help said 0 alone


@pytest.mark.skipif(torch.cuda.is_available(), reason="float16 runs on CUDA")
def test_float16_off_cuda_is_refused_before_any_model_loads(inputs, model_dir, tmp_path, monkeypatch, capsys):
    """`--dtype float16` on a machine without CUDA was refused once the model had loaded (a Hub model downloaded,
    an authors' .pth converted), by `restore` and `eval` alike; now before anything loads."""
    import swinir_hf.checkpoints.loading as loading

    loaded = []
    monkeypatch.setattr(loading, "load_model", lambda *args, **kwargs: loaded.append(args))
    out = tmp_path / "out"
    restore = ["restore", str(inputs / "good.png"), "-o", str(out), "--model", str(model_dir), "--dtype", "fp16"]
    evaluate = ["eval", "--model", str(model_dir), "--dataset", str(inputs), "--scale", "2", "--dtype", "float16"]
    for argv in (restore, evaluate):
        assert main(argv) == 1
        assert capsys.readouterr().err == "error: float16 is only supported on CUDA; use bfloat16 or float32 here\n"
    assert loaded == [] and not out.exists()
