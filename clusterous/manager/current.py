"""Which cluster commands act on when no name is given (set by create and workon)."""

from __future__ import annotations

from clusterous.errors import InputError
from clusterous.home import Home, atomic_write, check_cluster_name


def current_cluster(home: Home) -> str | None:
    path = home.root / "current_cluster"
    if not path.exists():
        return None
    name = path.read_text().strip()
    return name if name in home.cluster_names() else None


def set_current_cluster(home: Home, name: str | None) -> None:
    path = home.root / "current_cluster"
    if name is None:
        path.unlink(missing_ok=True)
    else:
        atomic_write(path, check_cluster_name(name) + "\n", mode=0o600)


def resolve_cluster_name(home: Home, name: str | None) -> str:
    """The named cluster, else the current one, else the only one there is."""
    if name:
        return check_cluster_name(name)
    current = current_cluster(home)
    if current:
        return current
    known = home.cluster_names()
    if len(known) == 1:
        return known[0]
    if not known:
        raise InputError(
            "no cluster to work on",
            "this machine knows no cluster",
            "create one with 'clusterous create', or take one over with 'clusterous workon NAME'",
        )
    raise InputError(
        "say which cluster",
        f"this machine knows several: {', '.join(known)}",
        "name it, or pick one for later commands with 'clusterous workon NAME'",
    )
