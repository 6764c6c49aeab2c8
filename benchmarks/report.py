"""The table of a run: figure | store | Compox | compox_ray | ratio | goal, and the results file.

The ratio is always compox_ray / Compox, measured in the same run on the same machine; the goal
says which way it must go. A value that could not be measured reads "n/a (reason)".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from benchmarks.figures import Figure

Value = float | str  # a number, or "n/a (why)"


@dataclass
class Results:
    figures: dict[str, Figure] = field(default_factory=dict)  # in the order first produced
    values: dict[tuple[str, str, str], Value] = field(default_factory=dict)  # (figure, store, server)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: Figure, store: str, server: str, value: Value) -> None:
        self.figures.setdefault(figure.name, figure)
        self.values[(figure.name, store, server)] = value

    def copy_column(self, from_store: str, to_store: str, server: str) -> None:
        for (name, store, of), value in list(self.values.items()):
            if store == from_store and of == server:
                self.values[(name, to_store, server)] = value

    def stores(self) -> list[str]:
        return list(dict.fromkeys(store for _, store, _ in self.values))


def _number(value: Value) -> bool:
    return isinstance(value, (int, float)) and not math.isnan(value)


def _cell(value: Value | None, unit: str) -> str:
    if value is None:
        return ""
    if not _number(value):
        return str(value) if isinstance(value, str) else "n/a"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:.{digits}f} {unit}"


def verdict(figure: Figure, compox: Value | None, ours: Value | None) -> tuple[str, str]:
    """(ratio text, goal text with met/missed)."""
    ratio = ours / compox if _number(compox) and _number(ours) and compox else None
    ratio_text = f"{ratio:.2f}" if ratio is not None else ""
    goal = figure.goal
    if figure.goal_ratio is not None and ratio is not None:
        met = ratio <= figure.goal_ratio if figure.lower_is_better else ratio >= figure.goal_ratio
        goal += " met" if met else " MISSED"
    elif figure.goal_max is not None and _number(ours):
        goal += " met" if ours < figure.goal_max else " MISSED"
    elif figure.goal_min is not None and _number(ours):
        goal += " met" if ours >= figure.goal_min else " MISSED"
    return ratio_text, goal


def table(results: Results) -> str:
    lines = ["| figure | store | Compox 3.2.0 | compox_ray | ratio | goal |", "|---|---|---|---|---|---|"]
    for store in results.stores():
        for name, figure in results.figures.items():
            compox = results.values.get((name, store, "Compox"))
            ours = results.values.get((name, store, "compox_ray"))
            if compox is None and ours is None:
                continue
            ratio, goal = verdict(figure, compox, ours)
            lines.append(f"| {name} | {store} | {_cell(compox, figure.unit)} | {_cell(ours, figure.unit)} "
                         f"| {ratio} | {goal} |")
    return "\n".join(lines)


def missed(results: Results) -> list[str]:
    """One line per missed goal, saying by how much."""
    lines = []
    for store in results.stores():
        for name, figure in results.figures.items():
            compox = results.values.get((name, store, "Compox"))
            ours = results.values.get((name, store, "compox_ray"))
            ratio, goal = verdict(figure, compox, ours)
            if not goal.endswith("MISSED"):
                continue
            if figure.goal_ratio is not None:
                lines.append(f"{name} ({store}): ratio {ratio}, goal {figure.goal} "
                             f"(off by a factor {float(ratio) / figure.goal_ratio:.2f})")
            else:
                lines.append(f"{name} ({store}): {ours:.0f} {figure.unit}, goal {figure.goal}")
    return lines


def document(results: Results, machine: dict, run: dict) -> str:
    parts = [f"# Benchmarks {run['date']}{' (quick)' if run['quick'] else ''}", "",
             f"Machine: {machine['cores']} cores ({machine['cpu_model']}), {machine['memory_gib']} GiB memory, "
             f"load average {machine['load_1m']} at start; shared with other work, so read ratios, not absolutes.",
             f"Run: `{run['command']}`, {run['duration_s']:.0f} s. Compox 3.2.0 under uvicorn (its "
             "fastapi_background_tasks executor, one worker); compox_ray under Ray Serve "
             f"{run['ray_version']} with its own local Ray instance. Local store: compox_ray's directory store "
             "against Compox's in-memory connection (its cheapest); S3: both on one moto server on 127.0.0.1.",
             "Memory: peak growth of the summed PSS (shared pages counted once: Ray's object store included) of "
             "the server's whole process tree while the figure ran; moto's own memory is not counted for either.",
             "", table(results), ""]
    missed_lines = missed(results)
    if missed_lines:
        parts += ["## Goals missed", "", *[f"- {line}" for line in missed_lines], ""]
    if results.notes:
        parts += ["## Notes (where the time goes)", "", *[f"- {note}" for note in results.notes], ""]
    return "\n".join(parts)
