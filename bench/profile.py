"""Sampling the gateway under load with py-spy, and reading the collapsed stacks it writes.

``py-spy record --format raw`` writes one line per distinct stack: ``frame;frame;frame count``
(outermost first). :func:`top_frames` turns that into the frames that hold the CPU: inclusive
share (the frame is anywhere on the stack) and self share (the frame is the innermost).
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

__all__ = ["record", "top_frames"]


def record(pid: int, seconds: int, out: Path, rate: int = 250) -> Path:
    """Sample ``pid`` (all threads, idle samples excluded) for ``seconds`` into ``out``."""
    exe = shutil.which("py-spy") or str(Path(__file__).resolve().parents[1] / ".venv/bin/py-spy")
    if not Path(exe).exists():
        raise RuntimeError("py-spy is missing: .venv/bin/pip install py-spy")
    subprocess.run(
        [
            exe,
            "record",
            "-p",
            str(pid),
            "-d",
            str(seconds),
            "-r",
            str(rate),
            "-f",
            "raw",
            "-o",
            str(out),
        ],
        capture_output=True,
        check=True,
        timeout=seconds + 60,
    )
    return out


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"; drop the line number.
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})" if path else name


def top_frames(collapsed: str, top: int = 25) -> tuple[int, list[tuple[str, float, float]]]:
    """``(total samples, [(frame, inclusive %, self %)])``, by inclusive share, largest first."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(f) for f in stack.split(";") if f]
        for name in set(frames):
            inclusive[name] += count
        if frames:
            own[frames[-1]] += count
    if total == 0:
        return 0, []
    rows = [
        (name, 100 * n / total, 100 * own[name] / total) for name, n in inclusive.most_common(top)
    ]
    return total, rows
