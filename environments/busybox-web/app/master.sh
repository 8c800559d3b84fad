#!/bin/sh
# Serve /data/www; rebuild its index from the workers' pages every second.
set -u
mkdir -p /data/www/workers
build_index() {
    {
        echo "<html><body><h1>busybox-web</h1><ul>"
        for page in /data/www/workers/*.html; do
            [ -e "$page" ] && cat "$page"
        done
        echo "</ul></body></html>"
    } > /data/www/.index.tmp && mv /data/www/.index.tmp /data/www/index.html
}
build_index
( while true; do sleep 1; build_index; done ) &
echo "master on ${CLUSTEROUS_NODE:-?}: serving /data/www on port 8080"
exec httpd -f -p 8080 -h /data/www
