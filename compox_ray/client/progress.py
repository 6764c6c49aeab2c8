"""A run's progress bar: tqdm.auto (the widget inside Jupyter, a text bar on a terminal's stderr),
fed with each record the run's events (or polls) bring, showing its status beside the bar."""

from __future__ import annotations

from collections.abc import Callable


class RunProgress:
    def __init__(self, label: str, enabled: bool, on_update: Callable[[dict], None] | None = None):
        self.on_update = on_update
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm  # decides at import whether it runs in a notebook

            self.bar = tqdm(total=100, desc=label, unit="%", leave=True, dynamic_ncols=True,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}]")

    def update(self, record: dict) -> None:
        if self.bar is not None:
            self.bar.n = round(100 * float(record.get("progress") or 0.0), 1)
            queued = record.get("queue_position")
            status = record.get("status", "")
            self.bar.set_postfix_str(f"{status} ({queued} ahead)" if status == "PENDING" and queued else status,
                                     refresh=False)
            self.bar.refresh()
        if self.on_update is not None:
            self.on_update(record)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
