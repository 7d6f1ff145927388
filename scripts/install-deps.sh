#!/bin/sh
# install-deps.sh - installs the Debian packages ccnn needs, if missing.
# Build: gcc, make, pkg-config, zlib, libcjson, libstb. Data: Fashion-MNIST.
# With --bench also python3-torch (the speed baseline of `make bench`).
set -e
pkgs="gcc make pkg-config zlib1g-dev libcjson-dev libstb-dev dataset-fashion-mnist"
[ "${1:-}" = "--bench" ] && pkgs="$pkgs python3-torch"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
