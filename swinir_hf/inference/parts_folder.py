"""The folder of a dataset restoration's parts (`parts_dir`): made, and cleared of what no longer belongs there
(another run's parts, a stopped write's file), never of anything else.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from ..console import shown_name

# Another run's part; a stopped write's: a stream part's (`part-....arrow.tmp`), `Dataset.map`'s (`tmpXXXXXXXX`).
_LEFT_BY_RUNS = re.compile(r"part-.+\.arrow(\.tmp)?|tmp[a-z0-9_]{8}")


def clear_parts_folder(folder: Path, keep: Collection[Path]) -> bool:
    """Make `folder` (parents too) and remove what runs left there besides `keep`; → whether that was other parts.

    Raises:
        ValueError: `folder` holds anything else (a file or folder of the user's: a parts folder given as a project's
            folder would have been emptied), before anything is removed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    left = [path for path in folder.iterdir() if path not in keep]
    foreign = sorted(path.name for path in left if path.is_dir() or not _LEFT_BY_RUNS.fullmatch(path.name))
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise ValueError(
            f"the parts folder {shown_name(folder)} holds {shown_name(foreign[0])}{more}, which no restoration wrote: "
            "give a folder of the parts' own (what other runs left in it is removed)"
        )
    for path in left:
        path.unlink()
    return any(path.name.endswith(".arrow") for path in left)
