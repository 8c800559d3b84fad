#!/usr/bin/env bash
# Put a static busybox binary in the image directory of the offline examples,
# so their images build with no registry at all (FROM scratch + COPY busybox).
# Usage: scripts/busybox-for-examples.sh [IMAGE_DIR...]
# Default: environments/busybox-web/image. Debian/Ubuntu: apt-get install busybox-static.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("$here/environments/busybox-web/image")

busybox=${BUSYBOX:-$(command -v busybox || true)}
if [ -z "$busybox" ]; then
    echo "busybox is not installed; Debian/Ubuntu: sudo apt-get install busybox-static" >&2
    exit 1
fi
if ldd "$busybox" >/dev/null 2>&1; then
    echo "$busybox is dynamically linked; it would not run in a FROM scratch image." >&2
    echo "Install a static one (Debian/Ubuntu: sudo apt-get install busybox-static)" >&2
    echo "or name one with BUSYBOX=/path/to/busybox." >&2
    exit 1
fi
for target in "${targets[@]}"; do
    install -m 0755 "$busybox" "$target/busybox"
    echo "copied $busybox to $target/busybox"
done
