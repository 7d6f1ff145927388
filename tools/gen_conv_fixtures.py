#!/usr/bin/python3
"""gen_conv_fixtures.py - write PyTorch reference fixtures for ccnn's 2-D
convolution (forward, gradient of the input, gradients of weights and bias).

Run from the repository root with Debian's Python, which has torch:

    /usr/bin/python3 tools/gen_conv_fixtures.py [OUT_DIR]

OUT_DIR defaults to tests/fixtures/conv. The output is deterministic
(torch.manual_seed per configuration); tests/test_conv_torch.c reads it.

How the values are made
    x, w, bias and the upstream gradient dy are drawn in float32 and stored
    exactly. They are then cast to float64 and torch computes
        y = conv2d(F.pad(x, (left, right, top, bottom)), w, bias,
                   stride, padding=0, dilation, groups)
    and, by autograd on loss = sum(y * dy), dx, dw and dbias. The gradient
    of x is taken with respect to the unpadded x (it flows through F.pad).
    The float64 results are rounded once to float32 when stored, so the
    fixtures are accurate to float32 rounding.

File format (one file per configuration, all little-endian)
    offset 0   8 bytes   magic "CCNNFIX1"
    offset 8   int32     number of shape ints that follow, always 15
    offset 12  15 int32  n, c, h, w, k, r, s, stride_h, stride_w,
                         pad_top, pad_bottom, pad_left, pad_right,
                         dilation_h, dilation_w
    offset 72  int32     groups
    offset 76  int32     has_bias (0 or 1)
    offset 80  float32 arrays, back to back, each contiguous (NCHW / KCRS):
        x     n*c*h*w
        w     k*(c/groups)*r*s
        bias  k                    (only if has_bias)
        dy    n*k*p*q
        y     n*k*p*q
        dx    n*c*h*w
        dw    k*(c/groups)*r*s
        db    k                    (only if has_bias)
    with p = (h + pad_top + pad_bottom - dilation_h*(r-1) - 1) // stride_h + 1
    and  q = (w + pad_left + pad_right - dilation_w*(s-1) - 1) // stride_w + 1.
    Nothing follows the last array; a reader can check the exact file size.
"""
import os
import struct
import sys

import torch
import torch.nn.functional as F

MAGIC = b"CCNNFIX1"

# name: n, c, h, w, k, r, s, stride (h, w), pad (top, bottom, left, right),
#       dilation (h, w), groups, has_bias
CONFIGS = [
    # several channels and filters, "same" padding
    ("multichannel", dict(n=1, c=3, h=8, w=8, k=4, r=3, s=3, stride=(1, 1),
                          pad=(1, 1, 1, 1), dil=(1, 1), groups=1, bias=True)),
    # stride 2; odd sizes, so the stride does not divide the padded input
    ("stride2", dict(n=1, c=2, h=10, w=11, k=3, r=3, s=3, stride=(2, 2),
                     pad=(1, 1, 1, 1), dil=(1, 1), groups=1, bias=False)),
    # stride 3 (rows) and 2 (columns), no padding, leftover rows/columns unused
    ("stride3", dict(n=1, c=3, h=13, w=11, k=2, r=3, s=2, stride=(3, 2),
                     pad=(0, 0, 0, 0), dil=(1, 1), groups=1, bias=True)),
    # stride 3 both ways with padding, 14 + 2 - 3 = 13 not a multiple of 3
    ("stride3_pad", dict(n=2, c=2, h=14, w=14, k=3, r=3, s=3, stride=(3, 3),
                         pad=(1, 1, 1, 1), dil=(1, 1), groups=1, bias=False)),
    # a different pad on every side
    ("asym_pad", dict(n=1, c=2, h=7, w=9, k=3, r=3, s=3, stride=(1, 1),
                      pad=(2, 0, 1, 3), dil=(1, 1), groups=1, bias=True)),
    # asymmetric padding with stride 2 and a non-square kernel
    ("asym_pad_stride2", dict(n=2, c=3, h=9, w=8, k=2, r=2, s=4, stride=(2, 2),
                              pad=(0, 3, 2, 1), dil=(1, 1), groups=1, bias=False)),
    # dilation 2
    ("dilation2", dict(n=1, c=2, h=12, w=12, k=3, r=3, s=3, stride=(1, 1),
                       pad=(2, 2, 2, 2), dil=(2, 2), groups=1, bias=True)),
    # dilation 3 with stride 2, asymmetric padding, different dilations per axis
    ("dilation3", dict(n=1, c=2, h=14, w=13, k=2, r=3, s=2, stride=(2, 1),
                       pad=(1, 2, 3, 0), dil=(3, 3), groups=1, bias=False)),
    ("dilation_mixed", dict(n=1, c=2, h=11, w=12, k=3, r=2, s=3, stride=(1, 2),
                            pad=(0, 1, 2, 2), dil=(3, 2), groups=1, bias=True)),
    # two groups
    ("groups2", dict(n=1, c=4, h=8, w=8, k=6, r=3, s=3, stride=(1, 1),
                     pad=(1, 1, 1, 1), dil=(1, 1), groups=2, bias=True)),
    # depthwise (groups = C = K) with stride 2
    ("depthwise", dict(n=2, c=4, h=9, w=9, k=4, r=3, s=3, stride=(2, 2),
                       pad=(1, 1, 1, 1), dil=(1, 1), groups=4, bias=True)),
    # depthwise with channel multiplier 2 (groups = C, K = 2C), no bias
    ("depthwise_mult2", dict(n=1, c=3, h=7, w=7, k=6, r=3, s=3, stride=(1, 1),
                             pad=(1, 1, 1, 1), dil=(1, 1), groups=3, bias=False)),
    # batch of 3
    ("batch3", dict(n=3, c=2, h=6, w=7, k=3, r=3, s=3, stride=(1, 1),
                    pad=(1, 1, 1, 1), dil=(1, 1), groups=1, bias=True)),
    # 1x1 kernel, stride 2, padding 1: border outputs see only zeros (bias)
    ("k1x1_stride2_pad1", dict(n=2, c=4, h=7, w=8, k=5, r=1, s=1, stride=(2, 2),
                               pad=(1, 1, 1, 1), dil=(1, 1), groups=1, bias=True)),
    # 7x7 kernel, stride 2, padding 3 (an ImageNet stem, small)
    ("k7x7", dict(n=1, c=3, h=16, w=15, k=4, r=7, s=7, stride=(2, 2),
                  pad=(3, 3, 3, 3), dil=(1, 1), groups=1, bias=True)),
    # kernel as large as the input: a single output pixel
    ("full_kernel", dict(n=2, c=3, h=5, w=4, k=2, r=5, s=4, stride=(1, 1),
                         pad=(0, 0, 0, 0), dil=(1, 1), groups=1, bias=False)),
    # everything at once: batch, groups, stride, dilation, uneven padding
    ("mixed", dict(n=2, c=6, h=11, w=10, k=4, r=3, s=2, stride=(2, 3),
                   pad=(2, 1, 0, 2), dil=(2, 1), groups=2, bias=True)),
    # more channels and filters (exercises blocking in the fast path)
    ("wide", dict(n=2, c=8, h=10, w=10, k=16, r=3, s=3, stride=(1, 1),
                  pad=(1, 1, 1, 1), dil=(1, 1), groups=1, bias=True)),
]


def floats(t):
    """A tensor as little-endian float32 bytes (C order)."""
    flat = t.detach().to(torch.float32).contiguous().reshape(-1).tolist()
    return struct.pack("<%df" % len(flat), *flat)


def make(name, cfg, seed):
    n, c, h, w = cfg["n"], cfg["c"], cfg["h"], cfg["w"]
    k, r, s, groups = cfg["k"], cfg["r"], cfg["s"], cfg["groups"]
    sh, sw = cfg["stride"]
    pt, pb, pl, pr = cfg["pad"]
    dh, dw = cfg["dil"]
    has_bias = cfg["bias"]
    assert c % groups == 0 and k % groups == 0, name

    torch.manual_seed(seed)
    # float32 draws; these exact values are what the file stores
    x32 = torch.randn(n, c, h, w, dtype=torch.float32)
    w32 = torch.randn(k, c // groups, r, s, dtype=torch.float32)
    b32 = torch.randn(k, dtype=torch.float32) if has_bias else None

    x = x32.double().requires_grad_(True)
    wt = w32.double().requires_grad_(True)
    b = b32.double().requires_grad_(True) if has_bias else None

    xp = F.pad(x, (pl, pr, pt, pb))  # (left, right, top, bottom)
    y = F.conv2d(xp, wt, b, stride=(sh, sw), padding=0, dilation=(dh, dw), groups=groups)

    p = (h + pt + pb - dh * (r - 1) - 1) // sh + 1
    q = (w + pl + pr - dw * (s - 1) - 1) // sw + 1
    assert tuple(y.shape) == (n, k, p, q), (name, tuple(y.shape), (n, k, p, q))

    dy32 = torch.randn(n, k, p, q, dtype=torch.float32)
    loss = (y * dy32.double()).sum()
    loss.backward()

    ints = [n, c, h, w, k, r, s, sh, sw, pt, pb, pl, pr, dh, dw]
    out = bytearray(MAGIC)
    out += struct.pack("<i", len(ints))
    out += struct.pack("<%di" % len(ints), *ints)
    out += struct.pack("<ii", groups, 1 if has_bias else 0)
    out += floats(x32)
    out += floats(w32)
    if has_bias:
        out += floats(b32)
    out += floats(dy32)
    out += floats(y)
    out += floats(x.grad)
    out += floats(wt.grad)
    if has_bias:
        out += floats(b.grad)

    # the size a reader expects
    cg = c // groups
    nfloat = (n * c * h * w + k * cg * r * s) * 2 + n * k * p * q * 2 + (2 * k if has_bias else 0)
    assert len(out) == 80 + 4 * nfloat, name
    return bytes(out)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "fixtures", "conv")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    names = [nm for nm, _ in CONFIGS]
    assert len(set(names)) == len(names)
    total = 0
    for i, (name, cfg) in enumerate(CONFIGS):
        data = make(name, cfg, seed=1000 + i)
        path = os.path.join(out_dir, name + ".bin")
        with open(path, "wb") as f:
            f.write(data)
        total += len(data)
        print("%-20s %7d bytes" % (path, len(data)))
    print("%d files, %d bytes in all" % (len(CONFIGS), total))


if __name__ == "__main__":
    main()
