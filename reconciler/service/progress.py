"""``RunProgress``: run hooks that show a live progress line on a terminal (``reconciler sync``).

The engine calls ``step`` at each journal step; this counts the writes committed and shows the
phase (reading the sides, planning, applying). How many actions a plan holds is not known
before it is applied, so the bar pulses and the count of applied actions grows. Off a terminal
(a pipe, a log file) it shows nothing.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from reconciler.sync.model import Action

_PHASES = {
    "snapshot_done": "planning",
    "plan_built": "applying",
    "conflicts_committed": "recording conflicts",
    "run_finished": "done",
}


class RunProgress:
    def __init__(self, title: str, *, console: Console | None = None) -> None:
        self.title = title
        self.applied = 0
        self.phase = "reading the sides"
        console = console or Console(stderr=True)
        self._progress: Progress | None = (
            Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            if console.is_terminal
            else None
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RunProgress:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task(self._describe(), total=None)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    async def step(self, name: str, *, action: Action | None = None) -> None:
        if name == "result_committed":
            self.applied += 1
        self.phase = _PHASES.get(name, self.phase)
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=self._describe())

    def _describe(self) -> str:
        return f"{self.title}: {self.phase}, {self.applied} action(s) applied"
