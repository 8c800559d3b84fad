#!/bin/sh
# Write a page about this worker to the shared volume, and keep it fresh.
set -u
node=${CLUSTEROUS_NODE:-$(hostname)}
mkdir -p /data/www/workers
echo "worker on $node: started"
trap 'rm -f "/data/www/workers/$node.html"; exit 0' TERM INT
while true; do
    echo "<li>worker on $node, up since $(date -u +%H:%M:%S -r /proc/1) ($(date -u +%H:%M:%S))</li>" \
        > "/data/www/workers/.$node.tmp"
    mv "/data/www/workers/.$node.tmp" "/data/www/workers/$node.html"
    sleep 2 &
    wait $!
done
