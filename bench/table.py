"""The table every benchmark prints: measure, median seconds, target, verdict."""

from __future__ import annotations


def print_measures(
    labels: dict[str, str], medians: dict[str, float], targets: dict[str, float]
) -> None:
    width = max(len(label) for label in labels.values()) + 2
    print(f"{'measure':<{width}}{'seconds':>9}{'target':>9}  ok")
    for key, label in labels.items():
        target = targets.get(key)
        verdict = "" if target is None else ("yes" if medians[key] <= target else "NO")
        shown = "" if target is None else f"{target:.1f}"
        print(f"{label:<{width}}{medians[key]:>9.2f}{shown:>9}  {verdict}")
