#!/bin/sh
# bench/dist/run.sh - data-parallel training speed (docs/distributed.md):
# images/s of one training epoch on a Fashion-MNIST subset, for
#   1x2      one process, 2 threads            (the baseline)
#   2x1 shm  mpirun -np 2, 1 thread each, shared memory
#   2x1 tcp  the same over TCP (--mca btl tcp,self)
# for the default network and nets/fashion-resnet.net; the three alternate,
# REPEAT runs of each, medians; efficiency = 2x1 / 1x2.
# Usage: [REPEAT=3] [NETS="default resnet"] bench/dist/run.sh [BUILD] (called
# by `make bench`). Skips without mpirun or without an MPI build.
set -eu
BUILD=${1:-build}
REPEAT=${REPEAT:-3}
NETS=${NETS:-default resnet}     # which of the two to measure
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
CCNN="$BUILD/ccnn"
if ! command -v mpirun >/dev/null 2>&1; then
    echo "(no distributed benchmark: mpirun is missing; ./scripts/install-deps.sh --mpi)"; exit 0
fi
if ! ldd "$CCNN" 2>/dev/null | grep -q libmpi; then
    echo "(no distributed benchmark: $CCNN was built without MPI)"; exit 0
fi
if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ]; then
    echo "(no distributed benchmark: no Fashion-MNIST in $DATA)"; exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# IDX subset: the first N records of a gzipped IDX file, its count rewritten.
be32() { printf "\\$(printf %03o $(($1 >> 24 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 & 255)))"; }
subset() { # src-prefix dst-prefix n
    { printf '\000\000\010\003'; be32 "$3"; printf '\000\000\000\034\000\000\000\034'
      gzip -dc "$1-images-idx3-ubyte.gz" | tail -c +17 | head -c $(($3 * 784)); } | gzip -1 > "$2-images-idx3-ubyte.gz"
    { printf '\000\000\010\001'; be32 "$3"
      gzip -dc "$1-labels-idx1-ubyte.gz" | tail -c +9 | head -c "$3"; } | gzip -1 > "$2-labels-idx1-ubyte.gz"
}
mkdir -p "$tmp/default" "$tmp/resnet"
subset "$DATA/train" "$tmp/default/train" 12800    # 200 steps of 64
subset "$DATA/t10k" "$tmp/default/t10k" 500
subset "$DATA/train" "$tmp/resnet/train" 2048      # 16 steps of 128
subset "$DATA/t10k" "$tmp/resnet/t10k" 500

MPI="mpirun --allow-run-as-root --oversubscribe -np 2"
ips() { # command...: the epoch line's img/s
    "$@" --epochs 1 --out "$tmp/m.safetensors" 2>/dev/null | sed -n 's/.* \([0-9][0-9]*\) img\/s.*/\1/p' | head -1
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

printf '%-16s %10s %10s %10s %8s %8s\n' network "1x2 img/s" "2x1 shm" "2x1 tcp" "eff shm" "eff tcp"
for net in $NETS; do
    if [ $net = default ]; then netopt=""; else netopt="--net nets/fashion-resnet.net"; fi
    a="" b="" c=""
    for r in $(seq "$REPEAT"); do
        a="$a $(ips "$CCNN" train $netopt --data "$tmp/$net" --threads 2)"
        b="$b $(ips $MPI "$CCNN" train $netopt --data "$tmp/$net" --threads 1)"
        c="$c $(ips $MPI --mca btl tcp,self "$CCNN" train $netopt --data "$tmp/$net" --threads 1)"
    done
    ma=$(echo "$a" | median); mb=$(echo "$b" | median); mc=$(echo "$c" | median)
    printf '%-16s %10s %10s %10s %8.3f %8.3f\n' "$net" "$ma" "$mb" "$mc" \
        "$(echo "$mb $ma" | awk '{print $1 / $2}')" "$(echo "$mc $ma" | awk '{print $1 / $2}')"
    echo "  runs: 1x2:$a | shm:$b | tcp:$c"
done
