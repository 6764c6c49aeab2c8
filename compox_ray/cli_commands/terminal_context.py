"""A LocalRunContext for ``compox-ray debug``: the run's log lines and progress on the terminal."""

from __future__ import annotations

import sys

from compox_ray.runners import LocalRunContext


class TerminalRunContext(LocalRunContext):
    def __init__(self, *args, progress_bar=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.progress_bar = progress_bar  # a tqdm bar of total 100, or None

    def report_progress(self, value: float) -> None:
        super().report_progress(value)
        if self.progress_bar is not None:
            self.progress_bar.n = round(100 * float(value), 1)
            self.progress_bar.refresh()

    def report_log(self, message: str, level: str = "INFO") -> None:
        super().report_log(message, level)
        print(f"[{level}] {message}", file=sys.stderr, flush=True)
