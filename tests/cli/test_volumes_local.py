"""ls-volumes and rm-volume on the local provider: the shared directories clusterous keeps.

No Docker is needed: the directories live under $CLUSTEROUS_HOME/volumes, and a
cluster this machine knows (its ledger) is the one using its directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clusterous.home import Home
from clusterous.manager.ledger import Ledger
from clusterous.records import ClusterState


def test_a_kept_local_directory_is_listed_then_removed(
    clusterous_home: Path, cli_runner: Any
) -> None:
    kept = clusterous_home / "volumes" / "old"
    kept.mkdir(parents=True)
    (kept / "results.csv").write_text("1,2\n")
    Ledger(Home(clusterous_home), "live").create(ClusterState("live", "local", "local"))
    (clusterous_home / "volumes" / "live").mkdir()

    listed = json.loads(cli_runner("ls-volumes", "--json").stdout)
    assert [(v["cluster"], v["kept"], v["state"]) for v in listed] == [
        ("live", False, "in-use"),
        ("old", True, "available"),
    ]
    shown = cli_runner("ls-volumes")
    assert "old" in shown.stdout and "kept" in shown.stdout

    refused = cli_runner("rm-volume", "live", "--yes")
    assert refused.exit_code == 2 and "clusterous destroy live" in refused.stderr
    assert (clusterous_home / "volumes" / "live").is_dir()

    removed = cli_runner("rm-volume", str(kept), "--yes")
    assert removed.exit_code == 0 and f"Deleted volume {kept}" in removed.stdout
    assert not kept.exists()
    missing = cli_runner("rm-volume", "old", "--yes")
    assert missing.exit_code != 0 and "ls-volumes" in missing.stderr
