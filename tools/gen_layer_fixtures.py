#!/usr/bin/python3
"""gen_layer_fixtures.py - write PyTorch reference fixtures for ccnn's
batchnorm, maxpool and avgpool layers (forward and backward).

Run from the repository root with Debian's Python, which has torch:

    /usr/bin/python3 tools/gen_layer_fixtures.py [OUT_DIR]

OUT_DIR defaults to tests/fixtures/layers. The output is deterministic
(torch.manual_seed(2000 + index) per configuration);
tests/test_layers_pool_bn.c reads it.

How the values are made
    Inputs (x, gamma, beta, running statistics, the upstream gradient dy)
    are drawn in float32 and stored exactly; torch computes in float64 and
    the results are rounded once to float32.
    batchnorm: F.batch_norm(x, running_mean, running_var, gamma, beta,
               training, momentum, eps); in training it also moves the
               running statistics (unbiased variance). 1-D cases (h = w = 1)
               run on an N x C tensor, i.e. BatchNorm1d.
    maxpool:   F.max_pool2d(F.pad(x, pads, value=-inf), kernel, stride)
    avgpool:   F.avg_pool2d(F.pad(x, pads, value=0), kernel, stride),
               i.e. count_include_pad: every window divided by kh * kw.
    Gradients by autograd on loss = sum(y * dy), dx with respect to the
    unpadded x.

File format (one file per configuration, all little-endian)
    offset 0   8 bytes    magic "CCNNLAY1"
    offset 8   14 int32   kind (0 batchnorm, 1 maxpool, 2 avgpool),
                          n, c, h, w,
                          size_h, size_w, stride_h, stride_w,
                          pad_top, pad_bottom, pad_left, pad_right,
                          train (batchnorm; 0 for pools)
    offset 64  2 float32  eps, momentum (batchnorm; 0 for pools)
    offset 72  float32 arrays, back to back:
      pools:     x [n,c,h,w], dy [n,c,p,q], y [n,c,p,q], dx [n,c,h,w]
      batchnorm: x [n,c,h,w], gamma [c], beta [c], running_mean [c],
                 running_var [c], dy [n,c,h,w],
                 y [n,c,h,w], running_mean after [c], running_var after [c],
                 dx [n,c,h,w], dgamma [c], dbeta [c]
    with p = (h + pad_top + pad_bottom - size_h) // stride_h + 1, likewise q.
    Nothing follows; a reader can check the exact size.
"""
import os
import struct
import sys

import torch
import torch.nn.functional as F

MAGIC = b"CCNNLAY1"
BATCHNORM, MAXPOOL, AVGPOOL = 0, 1, 2

# name: kind, n, c, h, w, and per kind: kernel, stride, pad (top, bottom,
# left, right) for pools; train, eps, momentum for batchnorm.
CONFIGS = [
    ("bn_train_2d", dict(kind=BATCHNORM, n=4, c=3, h=5, w=4, train=1, eps=1e-5, momentum=0.1)),
    ("bn_train_1d", dict(kind=BATCHNORM, n=6, c=5, h=1, w=1, train=1, eps=1e-3, momentum=0.3)),
    ("bn_eval_2d", dict(kind=BATCHNORM, n=2, c=3, h=4, w=3, train=0, eps=1e-5, momentum=0.1)),
    # the ResNet stem pool: 3x3, stride 2, pad 1 on odd and even sizes
    ("maxpool_3x3s2p1", dict(kind=MAXPOOL, n=2, c=3, h=9, w=8, k=(3, 3), stride=(2, 2),
                             pad=(1, 1, 1, 1))),
    # a different pad on each side, non-square kernel, stride (2, 1)
    ("maxpool_asym", dict(kind=MAXPOOL, n=2, c=2, h=7, w=6, k=(2, 3), stride=(2, 1),
                          pad=(1, 0, 0, 2))),
    ("avgpool_3x3s2p1", dict(kind=AVGPOOL, n=2, c=3, h=9, w=8, k=(3, 3), stride=(2, 2),
                             pad=(1, 1, 1, 1))),
    ("avgpool_asym", dict(kind=AVGPOOL, n=1, c=2, h=6, w=7, k=(3, 2), stride=(1, 3),
                          pad=(2, 0, 1, 1))),
]


def floats(t):
    """A tensor as little-endian float32 bytes (C order)."""
    flat = t.detach().to(torch.float32).contiguous().reshape(-1).tolist()
    return struct.pack("<%df" % len(flat), *flat)


def header(cfg, ints, eps=0.0, momentum=0.0):
    out = bytearray(MAGIC)
    vals = [cfg["kind"], cfg["n"], cfg["c"], cfg["h"], cfg["w"]] + ints
    assert len(vals) == 14
    out += struct.pack("<14i", *vals)
    out += struct.pack("<2f", eps, momentum)
    return out


def make_pool(cfg):
    n, c, h, w = cfg["n"], cfg["c"], cfg["h"], cfg["w"]
    kh, kw = cfg["k"]
    sh, sw = cfg["stride"]
    pt, pb, pl, pr = cfg["pad"]
    x32 = torch.randn(n, c, h, w, dtype=torch.float32)
    x = x32.double().requires_grad_(True)
    if cfg["kind"] == MAXPOOL:
        y = F.max_pool2d(F.pad(x, (pl, pr, pt, pb), value=float("-inf")), (kh, kw), (sh, sw))
    else:
        y = F.avg_pool2d(F.pad(x, (pl, pr, pt, pb), value=0.0), (kh, kw), (sh, sw))
    p = (h + pt + pb - kh) // sh + 1
    q = (w + pl + pr - kw) // sw + 1
    assert tuple(y.shape) == (n, c, p, q)
    dy32 = torch.randn(n, c, p, q, dtype=torch.float32)
    (y * dy32.double()).sum().backward()
    out = header(cfg, [kh, kw, sh, sw, pt, pb, pl, pr, 0])
    for t in (x32, dy32, y, x.grad):
        out += floats(t)
    assert len(out) == 72 + 4 * 2 * (n * c * h * w + n * c * p * q)
    return bytes(out)


def make_bn(cfg):
    n, c, h, w = cfg["n"], cfg["c"], cfg["h"], cfg["w"]
    train, eps, mom = cfg["train"], cfg["eps"], cfg["momentum"]
    x32 = torch.randn(n, c, h, w) * 2 + 0.5
    g32 = torch.randn(c)
    b32 = torch.randn(c)
    rm32 = torch.randn(c) * 0.5
    rv32 = torch.rand(c) + 0.5
    dy32 = torch.randn(n, c, h, w)
    x = x32.double().requires_grad_(True)
    g = g32.double().requires_grad_(True)
    b = b32.double().requires_grad_(True)
    rm, rv = rm32.double().clone(), rv32.double().clone()
    xin = x.reshape(n, c) if h == 1 and w == 1 else x  # BatchNorm1d semantics
    y = F.batch_norm(xin, rm, rv, g, b, training=bool(train), momentum=mom, eps=eps).reshape(n, c, h, w)
    (y * dy32.double()).sum().backward()
    out = header(cfg, [0] * 8 + [train], eps, mom)
    for t in (x32, g32, b32, rm32, rv32, dy32, y, rm, rv, x.grad, g.grad, b.grad):
        out += floats(t)
    assert len(out) == 72 + 4 * (4 * n * c * h * w + 8 * c)
    return bytes(out)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "fixtures", "layers")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    total = 0
    for i, (name, cfg) in enumerate(CONFIGS):
        torch.manual_seed(2000 + i)
        data = make_bn(cfg) if cfg["kind"] == BATCHNORM else make_pool(cfg)
        path = os.path.join(out_dir, name + ".bin")
        with open(path, "wb") as f:
            f.write(data)
        total += len(data)
        print("%-40s %6d bytes" % (path, len(data)))
    print("%d files, %d bytes in all" % (len(CONFIGS), total))


if __name__ == "__main__":
    main()
