"""What a Space installs, for tests that run the demo as a Space runs it: the distributions its requirements and
gradio bring, and a site-packages folder holding those alone."""

from __future__ import annotations

from pathlib import Path


def link_distributions(names: set[str], folder: Path) -> None:
    """A site-packages folder of links to the installed files of these distributions only."""
    from importlib.metadata import distribution

    folder.mkdir(exist_ok=True)
    for name in names:
        dist = distribution(name)
        for top in {f.parts[0] for f in dist.files or [] if f.parts[0] != ".."}:
            if not (folder / top).exists():
                (folder / top).symlink_to(dist.locate_file(top))


def installed_with(names: list[str]) -> set[str]:
    """The distributions `pip install NAMES` brings: the names and their dependencies, without extras."""
    from importlib.metadata import distribution

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    todo, seen = list(names), set()
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for line in distribution(name).requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return {distribution(n).metadata["Name"] for n in seen}


def requirement_pins(space: Path) -> list[str]:
    """The `name==version` lines of a Space folder's requirements.txt."""
    lines = (space / "requirements.txt").read_text().splitlines()
    return [line for line in lines if line and line[0] not in "#-"]
