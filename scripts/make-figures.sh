#!/bin/sh
# make-figures.sh - regenerates docs/figures/ with `ccnn explain --svg`, so
# the pictures in docs/backprop.md are drawn by the tool's own SVG code.
# The configuration and seed are those of the second worked example of
# docs/backprop.md (and of tests/test_conv_example2.c): change all three
# together. Run from the repository root after `make`.
set -eu
cd "$(dirname "$0")/.."
ccnn=${CCNN:-build/ccnn}
[ -x "$ccnn" ] || { echo "make-figures.sh: $ccnn not built (run make)" >&2; exit 1; }
mkdir -p docs/figures
"$ccnn" explain --input 2x2x5x5 --filters 4 --size 2 --stride 2 --dilation 2 --pad 1,0,0,1 \
    --groups 2 --seed 330 --svg docs/figures/example2 >/dev/null
ls docs/figures/example2-*.svg
