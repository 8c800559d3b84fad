#!/usr/bin/env bash
# `make demo`: create a real multi-node cluster on this machine's Docker engine
# with the built-in local profile (no cloud account), show it working, and say
# what to do next. `make demo` has already set up the venv, Docker and the base
# image; this script only uses the clusterous CLI, as a user would.
set -euo pipefail

name="${CLUSTEROUS_DEMO_CLUSTER:-demo}"
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if clusterous status "$name" >/dev/null 2>&1; then
    say "Cluster '$name' already exists; destroying it first to start clean"
    clusterous destroy "$name" --yes
fi

say "Creating cluster '$name' on the local Docker engine: a controller, one master, two workers"
clusterous create --name "$name" --workers 2

say "Its state"
clusterous status "$name"

say "The shared volume /data: written on worker-1, read on master-1"
clusterous ssh --cluster "$name" worker-1 -- sh -c "'echo hello from \$(hostname) > /data/hello.txt'"
clusterous ssh --cluster "$name" master-1 -- cat /data/hello.txt

say "The cluster's Swarm, as the controller sees it"
clusterous ssh --cluster "$name" controller -- docker node ls

say "Running the offline example application (environments/busybox-web)"
bash scripts/busybox-for-examples.sh
clusterous run environments/busybox-web/env.yml --yes

say "Asking the master, through the tunnel, for the pages the workers wrote"
sleep 2
curl -fsS http://127.0.0.1:8080/ | head -n 20

say "Growing it by one worker: the 'count: auto' worker component follows"
clusterous add-nodes 1 --cluster "$name"
clusterous status "$name"

say "Opening the cluster's dashboard: nodes, services and searchable logs"
dashboard_url=$(clusterous dashboard --cluster "$name" | grep -o 'http://127\.0\.0\.1:[0-9]*/')

cat <<EOF

The cluster '$name' is running. Next:
  . .venv/bin/activate                 # put clusterous on your PATH
  clusterous status                    # nodes, volume, services
  clusterous ssh worker-1              # a shell on a node (host keys pinned)
  curl http://localhost:8080/          # the example app, through its tunnel
  clusterous logs worker               # every worker's output, prefixed with its node
  clusterous quit --yes                # stop the app and its tunnel
  clusterous rm-nodes 1                # shrink it again
  clusterous dashboard                 # the dashboard's URL again (re-opens its tunnel)
  clusterous destroy $name --yes       # remove everything; nothing is left behind

The cluster's dashboard (open it in your browser): $dashboard_url
EOF
