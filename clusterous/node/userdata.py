"""The user-data of a launch: the one bootstrap script, for every node of a group.

Every node of every provider boots the way an EC2 instance does (DESIGN
section 3): cloud-init runs this user-data once per instance. One launch
starts all the nodes of a group with the same user-data, so the script first
finds which node it is from cloud-init's instance data
(/run/cloud-init/instance-data.json, what ``cloud-init query`` reads), the
same way on both providers: the instance id (``v1.instance_id``) and the
node's place in the launch (``ds.meta_data.ami-launch-index``, which EC2's
metadata gives and the local provider's NoCloud seed gives alike), which
picks its name from the list rendered here. The result is gzipped, and the
script's comment lines are left out: the script is larger than EC2's 16 KB
user-data limit, and cloud-init unpacks gzip by itself.
"""

from __future__ import annotations

import gzip
import shlex
from collections.abc import Sequence

from clusterous.node import BootstrapParams, render_bootstrap

USER_DATA_LIMIT = 16 * 1024

LAUNCH_PREAMBLE = """\
# clusterous: one user-data for the whole launch; each node finds its own name and id
# in cloud-init's instance data (what `cloud-init query` reads, without its start-up).
clusterous_instance_data() {
    python3 - 2>>/var/log/clusterous-bootstrap.log <<'PY'
import json
data = json.load(open("/run/cloud-init/instance-data.json"))
meta = data["ds"]["meta_data"]
print(data["v1"]["instance_id"], meta.get("ami-launch-index", meta.get("ami_launch_index")))
PY
}
clusterous_no_instance_data() {
    # The CLI watches this log: say why at once rather than let it time out.
    echo "clusterous-bootstrap: error: cannot read this node's $1 from cloud-init's" \\
        "instance data (/run/cloud-init/instance-data.json); see /var/log/cloud-init.log" \\
        | tee -a /var/log/clusterous-bootstrap.log >&2
    exit 1
}
clusterous_names=({names})
clusterous_data=$(clusterous_instance_data) || clusterous_no_instance_data "instance id"
read -r CLUSTEROUS_INSTANCE_ID clusterous_index <<<"$clusterous_data"
clusterous_count=${#clusterous_names[@]}
[[ $clusterous_index =~ ^[0-9]+$ ]] && [ "$clusterous_index" -lt "$clusterous_count" ] \\
    || clusterous_no_instance_data "launch index ('$clusterous_index' of $clusterous_count)"
CLUSTEROUS_NODE=${clusterous_names[$clusterous_index]}
"""


def launch_preamble(names: Sequence[str]) -> str:
    return LAUNCH_PREAMBLE.replace("{names}", " ".join(shlex.quote(n) for n in names))


def render_launch_script(params: BootstrapParams, names: Sequence[str]) -> str:
    """The bootstrap with ``params``, then the lines that pick this node's name and id."""
    script = render_bootstrap(params, compact=True)
    assignments = params.shell_assignments()
    at = script.index(assignments) + len(assignments)
    return script[:at] + "\n" + launch_preamble(names) + script[at:]


def user_data(params: BootstrapParams, names: Sequence[str]) -> bytes:
    packed = gzip.compress(render_launch_script(params, names).encode(), mtime=0)
    if len(packed) > USER_DATA_LIMIT:
        raise ValueError(f"user-data of {len(packed)} bytes exceeds EC2's 16 KB limit")
    return packed
