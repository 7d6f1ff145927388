#!/bin/sh
# check-accuracy.sh - training-to-accuracy runs (minutes to hours, so not part
# of `make test`). Trains on Fashion-MNIST and checks the test accuracy the
# run ends with against the floor it must reach.
#   scripts/check-accuracy.sh          default network, 2 epochs: >= 0.89
#   scripts/check-accuracy.sh full     also 15 epochs >= 0.925 and fashion-resnet >= 0.94
set -eu
cd "$(dirname "$0")/.."
out=${TMPDIR:-/tmp}/ccnn-accuracy.$$
mkdir -p "$out"
trap 'rm -rf "$out"' EXIT
status=0

check() { # name floor ccnn-train-args...
    name=$1 floor=$2
    shift 2
    build/ccnn train "$@" --out "$out/$name.safetensors" | tee "$out/$name.log"
    acc=$(tail -n 1 "$out/$name.log" | sed -n 's/^test accuracy: //p')
    if awk "BEGIN { exit !($acc >= $floor) }"; then
        echo "PASS $name: $acc >= $floor"
    else
        echo "FAIL $name: $acc < $floor"
        status=1
    fi
}

check default-2-epochs 0.89 --epochs 2
if [ "${1:-}" = full ]; then
    check default-15-epochs 0.925 --epochs 15
    check fashion-resnet 0.94 --net nets/fashion-resnet.net
fi
exit $status
