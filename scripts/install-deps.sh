#!/bin/sh
# install-deps.sh - installs the Debian packages ccnn needs, if missing.
#   (no flag)   build + data: gcc, make, pkg-config, zlib, libcjson,
#               libpng, libjpeg-turbo, Fashion-MNIST
#   --bench     python3-torch (the speed baseline of `make bench`)
#   --mpi       Open MPI (data-parallel training; `make` finds it by pkg-config)
#   --browser   chromium (renders `ccnn explain --html` in a test)
#   --fuzz      clang-14 + its sanitizer and OpenMP runtimes (`make fuzz`)
#   --aarch64   the arm64 cross compiler, qemu-user and arm64 -dev packages
#               (`make test-aarch64`)
# Flags combine: `install-deps.sh --mpi --fuzz`.
set -e
pkgs="gcc make pkg-config zlib1g-dev libcjson-dev libpng-dev libjpeg62-turbo-dev dataset-fashion-mnist"
arm=""
for flag in "$@"; do
    case "$flag" in
    --bench)   pkgs="$pkgs python3-torch" ;;
    --mpi)     pkgs="$pkgs openmpi-bin libopenmpi-dev" ;;
    --browser) pkgs="$pkgs chromium" ;;
    --fuzz)    pkgs="$pkgs clang-14 libclang-rt-14-dev libomp-14-dev" ;;
    --aarch64) arm=1
               pkgs="$pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
               pkgs="$pkgs zlib1g-dev:arm64 libcjson-dev:arm64 libpng-dev:arm64 libjpeg62-turbo-dev:arm64"
               pkgs="$pkgs libgomp1:arm64" ;; # the programs run on the multiarch libraries (Makefile)
    *) echo "install-deps.sh: unknown flag '$flag' (--bench --mpi --browser --fuzz --aarch64)" >&2; exit 2 ;;
    esac
done
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
if [ -n "$arm" ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64
    $sudo apt-get -o Acquire::Retries=3 update -qq
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
$sudo apt-get -o Acquire::Retries=3 update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get -o Acquire::Retries=3 install -y -qq $missing
