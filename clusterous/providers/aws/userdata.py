"""EC2 user-data: the one bootstrap script, for a whole launch of identical instances.

One ``run_instances`` launches every node of a group with the same user-data
(DESIGN section 3: N nodes configure themselves in parallel). Each instance
learns its own instance id and its place in the launch (``ami-launch-index``)
from the instance metadata service (IMDSv2) and takes its node name from the
list rendered here. The result is gzipped: the script is larger than EC2's
16 KB user-data limit, and cloud-init unpacks gzip by itself.
"""

from __future__ import annotations

import gzip
import shlex
from collections.abc import Sequence

from clusterous.node import BootstrapParams, render_bootstrap

USER_DATA_LIMIT = 16 * 1024

LAUNCH_PREAMBLE = """\
# clusterous (aws): one user-data for the whole launch; each instance finds its own name and id.
clusterous_imds() {
    python3 - "$1" <<'PY'
import sys, urllib.request
base = "http://169.254.169.254/latest/"
ask = urllib.request.Request(
    base + "api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
)
token = urllib.request.urlopen(ask, timeout=10).read().decode()
get = urllib.request.Request(
    base + "meta-data/" + sys.argv[1], headers={"X-aws-ec2-metadata-token": token}
)
print(urllib.request.urlopen(get, timeout=10).read().decode().strip())
PY
}
CLUSTEROUS_INSTANCE_ID=$(clusterous_imds instance-id) \\
    || { echo "clusterous-bootstrap: error: cannot read this instance's metadata" >&2; exit 1; }
clusterous_names=({names})
CLUSTEROUS_NODE=${clusterous_names[$(clusterous_imds ami-launch-index)]}
"""


def launch_preamble(names: Sequence[str]) -> str:
    return LAUNCH_PREAMBLE.replace("{names}", " ".join(shlex.quote(n) for n in names))


def render_launch_script(params: BootstrapParams, names: Sequence[str]) -> str:
    """The bootstrap with ``params``, then the lines that pick this instance's name and id."""
    script = render_bootstrap(params)
    assignments = params.shell_assignments()
    at = script.index(assignments) + len(assignments)
    return script[:at] + "\n" + launch_preamble(names) + script[at:]


def user_data(params: BootstrapParams, names: Sequence[str]) -> bytes:
    packed = gzip.compress(render_launch_script(params, names).encode(), mtime=0)
    if len(packed) > USER_DATA_LIMIT:
        raise ValueError(f"user-data of {len(packed)} bytes exceeds EC2's 16 KB limit")
    return packed
