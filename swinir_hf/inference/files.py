"""The inputs a command line gives (files, folders, glob patterns) collected into (file, relative path) pairs, and
which files are images."""

from __future__ import annotations

import fnmatch
import functools
import glob
import heapq
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..console import shown_name, some_names
from ..storage.paths import check_name_lengths

# The image files that folders of images (datasets, benchmarks) are read from; HEIC / HEIF need the `heif` extra.
IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".webp", ".ppm", ".pgm", ".heic", ".heif")


# Pillow's formats that only identify a file, and need a handler of the user's own to decode it (a video, say).
_STUB_FORMATS = {"BUFR", "GRIB", "HDF5", "MPEG"}


@functools.cache
def _readable_suffixes() -> frozenset[str]:
    from PIL import Image

    registered = Image.registered_extensions().items()
    return frozenset(ext for ext, name in registered if name in Image.OPEN and name not in _STUB_FORMATS)


def is_image_name(path: str | os.PathLike) -> bool:
    """Whether a file's suffix is an image format's that Pillow reads (HEIC / HEIF with the `heif` extra): what a
    folder input is read for (a README, an .xmp sidecar or a camera's RAW file beside the photos is not)."""
    suffix = Path(path).suffix.lower()
    return suffix in IMAGE_SUFFIXES or suffix in _readable_suffixes()


@dataclass
class CollectedInputs:
    """What `collect_inputs` found: the (file, path relative to its root) pairs to restore, sorted, and the files
    of the folders left out as not images, sorted."""

    files: list[tuple[Path, Path]]
    left_out: list[Path]
    # The (non-hidden) sub-folders of input folders read without --recursive, sorted: not looked into.
    skipped_folders: list[Path] = field(default_factory=list)


def collect_inputs(inputs: Iterable[str], recursive: bool = False) -> CollectedInputs:
    """Files, folders and glob patterns → sorted unique (file, path relative to its root) pairs, each file named
    by `_real_name`.

    A folder contributes every non-hidden file in it (its sub-folders too with `recursive`) that is an image by its
    suffix (`is_image_name`), including those that are not regular files (FIFOs, dangling links), which get
    reported rather than silently skipped; its other files (a README, sidecars) are left out. A file
    or glob match is taken whatever its suffix: named, it is tried. A glob's matches are relative to its
    `glob_root`, so that `photos/*/a.png` keeps `2023/a.png` and `2024/a.png` apart. A file named by several inputs
    keeps, of its relative paths that pass through the fewest symlinked folders, the deepest (a folder's over a bare
    file name): a `**` glob follows links, round a loop too (`sub/loop/sub/loop/.../a.png` is `a.png`).

    Raises:
        FileNotFoundError: an input that names nothing, or a folder with no (non-hidden) image files to collect.
        ValueError: a folder that cannot be listed (no permission), an input with a name over NAME_MAX bytes.
    """
    found: dict[Path, tuple[tuple[int, int], Path]] = {}  # file → (the rank of its relative path, that path)
    left_out: list[Path] = []
    skipped: list[Path] = []

    def add(file: Path, rel: Path) -> None:
        # A file named twice keeps its best relative path, whatever the order of the inputs: `in/sub/a.png` beside
        # `in --recursive` goes to sub/a.png, not onto in/a.png's output.
        key, rank = _real_name(file), (-_links_in(file, rel), len(rel.parts))
        if key not in found or rank > found[key][0]:
            found[key] = (rank, rel)

    for spec in inputs:
        check_name_lengths(spec, "input")
        path = Path(spec)
        if path.is_dir():
            try:
                # Not only regular files: a FIFO or a dangling link is reported (never opened), not left out unsaid.
                entries = list(path.rglob("*") if recursive else path.iterdir())
                entries = [f for f in entries if not any(part.startswith(".") for part in f.relative_to(path).parts)]
                folders = [] if recursive else [f for f in entries if f.is_dir()]
                files = [f for f in entries if not f.is_dir()]
            except OSError as err:  # no read permission on the folder (or a file in it)
                raise ValueError(f"cannot read folder {shown_name(spec)}: {err.strerror or err}") from err
            others = sorted(f for f in files if not is_image_name(f))
            files = [f for f in files if is_image_name(f)]
            if not files:  # a typo or a forgotten --recursive, which a bare "restored 0" would hide
                raise FileNotFoundError(
                    f"no image files in folder {shown_name(spec)}"
                    + (f" (only {some_names([f.name for f in others])})" if others else "")
                    + " (pass --recursive for its sub-folders)" * bool(folders)
                )
            left_out += others
            skipped += folders
            for f in files:
                add(f, f.relative_to(path))
        elif path.is_file():
            add(path, Path(path.name))
        else:
            # `**` asks for sub-folders itself (no --recursive needed); other patterns name one level each.
            deep = "**" in Path(spec).parts
            matches = deep_glob(spec) if deep else [Path(m) for m in glob.glob(spec) if not Path(m).is_dir()]
            if not matches:
                raise FileNotFoundError(f"no such file, folder or matching files: {shown_name(spec)}")
            root = glob_root(spec)
            for m in matches:
                add(m, m.relative_to(root))
    files = sorted((file, rel) for file, (_, rel) in found.items())
    return CollectedInputs(files, sorted(set(left_out)), sorted(set(skipped)))


def deep_glob(pattern: str) -> list[Path]:
    """The files a `**` pattern matches, as `glob.glob(pattern, recursive=True)` (links to folders followed, hidden
    names matched only by a pattern part that starts with a dot), but each real folder listed once per set of pattern
    positions it is reached at, through the fewest symlinked folders first. glob follows a loop (`sub/loop -> ..`)
    ~40 links deep, and with a second link in its reach the paths it tries grow exponentially: it never ended."""
    if pattern.endswith(("/", os.sep)):  # glob matches folders only then
        return []
    root = glob_root(pattern)
    parts = Path(pattern).parts[len(root.parts) :]
    # (symlinks on the way, depth, tie-breaker, folder, the pattern positions its path has reached)
    queue = [(0, 0, 0, str(root), _past_stars(parts, {0}))]
    seen, matches = set(), []
    while queue:
        links, depth, _, folder, at = heapq.heappop(queue)
        if (key := (os.path.realpath(folder), at)) in seen:
            continue
        seen.add(key)
        try:
            entries = list(os.scandir(folder))
        except OSError:  # unreadable, or gone meanwhile: glob skips it too
            continue
        for entry in entries:
            if entry.is_dir():  # through links, as glob
                if inside := _past_stars(parts, _folder_steps(parts, at, entry.name)):
                    heapq.heappush(queue, (links + entry.is_symlink(), depth + 1, len(seen), entry.path, inside))
            elif any(i == len(parts) - 1 and _part_matches(entry.name, parts[i]) for i in at):
                matches.append(Path(entry.path))
    return matches


def _past_stars(parts: tuple[str, ...], at: set[int]) -> frozenset[int]:
    """Pattern positions `at`, and those past each `**` there (it may stand for no folder: `a/**/b` matches `a/b`)."""
    out, todo = set(at), list(at)
    while todo:
        if (i := todo.pop()) < len(parts) and parts[i] == "**" and i + 1 not in out:
            out.add(i + 1)
            todo.append(i + 1)
    return frozenset(out)


def _folder_steps(parts: tuple[str, ...], at: frozenset[int], name: str) -> set[int]:
    """The positions a folder called `name` reaches from its parent's `at`: a `**` takes it and stays, a part before
    the last one that matches it moves on (the last part names the files)."""
    steps = set()
    for i in at:
        if i < len(parts) and parts[i] == "**" and not name.startswith("."):
            steps.add(i)
        elif i < len(parts) - 1 and _part_matches(name, parts[i]):
            steps.add(i + 1)
    return steps


def _part_matches(name: str, part: str) -> bool:
    """Whether a file or folder called `name` matches one part of a pattern (`**` as the last: any file)."""
    if part == "**":
        return not name.startswith(".")
    # glob's rule: a wildcard does not match a leading dot
    return fnmatch.fnmatchcase(name, part) and (not name.startswith(".") or part.startswith("."))


def _links_in(file: Path, rel: Path) -> int:
    """How many of the folders of `rel` (`file`'s path below its input's root) are symlinks."""
    return sum(folder.is_symlink() for folder in list(file.parents)[: len(rel.parts) - 1])


def left_out_note(files: list[Path]) -> str:
    """The note that a run's input folders held `files`, which are not images by their suffix."""
    many = "s that are not images" if len(files) > 1 else " that is not an image"
    named = some_names([f.name for f in files])
    return f"note: left out {len(files)} file{many} in the input folders ({named}); name a file to try it"


def skipped_folders_note(folders: list[Path], out_dir: Path) -> str | None:
    """The note that a run without --recursive did not look into `folders` (sub-folders of its input folders), but
    for `out_dir` and those holding it (`photos -o photos/restored`: its own outputs); None when none is left."""
    out = out_dir.absolute()
    folders = [f for f in folders if not (out == f.absolute() or f.absolute() in out.parents)]
    if not folders:
        return None
    many = f"{len(folders)} sub-folders" if len(folders) > 1 else "1 sub-folder"
    named = some_names([f.name for f in folders])
    return f"note: skipped {many} of the input folders ({named}); pass --recursive to restore the images in them too"


def glob_root(pattern: str) -> Path:
    """The folders a glob pattern starts with that hold no wildcard (`photos` for `photos/**/*.png`; `.` for
    `*.png`): its matches keep their paths below it, as a folder input's files do."""
    fixed = []
    for part in Path(pattern).parts[:-1]:
        if any(c in part for c in "*?["):  # glob's wildcards
            break
        fixed.append(part)
    return Path(*fixed)


def _real_name(path: Path) -> Path:
    """`path` with its folders resolved but not its own name: one file reached by two paths (`in/a.png`,
    `./in/a.png`) is one input, while a symlink beside its target (`a.png -> z.png`) is an input of its own, as a
    user listing the folder sees it; which of the two were kept would otherwise depend on the listing order."""
    return path.absolute().parent.resolve() / path.name
