#!/usr/bin/python3
"""gen_deconv_fixtures.py - write PyTorch reference fixtures for ccnn's
transposed convolution layer ("deconv", torch.nn.ConvTranspose2d semantics):
forward output and the gradients of input, weights and bias.

Run from the repository root with Debian's Python, which has torch:

    /usr/bin/python3 tools/gen_deconv_fixtures.py [OUT_DIR]

OUT_DIR defaults to tests/fixtures/deconv. The output is deterministic
(torch.manual_seed per configuration); tests/test_layers_misc.c reads it.

How the values are made
    x, w (C_in x filters/groups x R x S), bias and an upstream gradient dy
    are drawn in float32 and stored exactly, then cast to float64. torch
    computes the full scatter
        z = conv_transpose2d(x, w, stride, padding=0, output_padding=0,
                             dilation, groups)
    of (H-1)*stride_h + dilation_h*(R-1) + 1 rows, and the output
        y = F.pad(z, (-pad_left, output_pad_w - pad_right,
                      -pad_top, output_pad_h - pad_bottom)) + bias
    i.e. padding crops the scatter (a different amount per side) and output
    padding adds rows/columns at the bottom/right (zeros plus the bias where
    they extend past the scatter). For symmetric padding this is checked
    against conv_transpose2d(padding, output_padding) itself. dx, dw and
    dbias come from autograd on loss = sum(y * dy). The float64 results are
    rounded once to float32 when stored.

File format (one file per configuration, all little-endian)
    offset 0   8 bytes   magic "CCNNDCV1"
    offset 8   int32     number of ints that follow, always 19
    offset 12  19 int32  n, c_in, h, w, filters, r, s, stride_h, stride_w,
                         pad_top, pad_bottom, pad_left, pad_right,
                         dilation_h, dilation_w, output_pad_h, output_pad_w,
                         groups, has_bias
    offset 88  float32 arrays, back to back, contiguous:
        x     n*c_in*h*w
        w     c_in*(filters/groups)*r*s
        bias  filters              (only if has_bias)
        dy    n*filters*ho*wo
        y     n*filters*ho*wo
        dx    n*c_in*h*w
        dw    c_in*(filters/groups)*r*s
        db    filters              (only if has_bias)
    with ho = (h-1)*stride_h - pad_top - pad_bottom + dilation_h*(r-1)
              + output_pad_h + 1, likewise wo. Nothing follows.
"""
import os
import struct
import sys

import torch
import torch.nn.functional as F

MAGIC = b"CCNNDCV1"

# name: n, c (in), h, w, f (filters), r, s, stride (h, w),
#       pad (top, bottom, left, right), dilation (h, w), opad (h, w), groups, bias
CONFIGS = [
    # plain: stride 1, no padding (the output grows by R-1, S-1)
    ("basic", dict(n=1, c=2, h=4, w=5, f=3, r=3, s=3, stride=(1, 1), pad=(0, 0, 0, 0),
                   dil=(1, 1), opad=(0, 0), groups=1, bias=True)),
    # the usual 2x upsampling: stride 2, padding 1, output padding 1, batch 2
    ("stride2_up", dict(n=2, c=3, h=4, w=3, f=2, r=3, s=3, stride=(2, 2), pad=(1, 1, 1, 1),
                        dil=(1, 1), opad=(1, 1), groups=1, bias=True)),
    # a different crop on every side, stride 2 and 3, output padding 0 and 2
    ("asym_pad", dict(n=1, c=2, h=5, w=4, f=3, r=3, s=2, stride=(2, 3), pad=(2, 0, 1, 3),
                      dil=(1, 1), opad=(0, 2), groups=1, bias=False)),
    # output padding >= stride (allowed: < dilation) with no bottom/right pad
    # to absorb it: rows and columns past the scatter hold only the bias
    ("opad_dilation", dict(n=1, c=2, h=4, w=4, f=2, r=3, s=3, stride=(1, 1), pad=(1, 0, 0, 1),
                           dil=(2, 3), opad=(1, 2), groups=1, bias=True)),
    # output padding >= stride, partly inside the cropped bottom rows
    ("opad_in_pad", dict(n=1, c=3, h=3, w=4, f=3, r=2, s=3, stride=(2, 1), pad=(0, 3, 1, 1),
                         dil=(3, 2), opad=(2, 1), groups=1, bias=True)),
    # two groups, dilation, stride on one axis
    ("groups2", dict(n=2, c=4, h=3, w=4, f=6, r=2, s=3, stride=(2, 1), pad=(0, 1, 1, 1),
                     dil=(1, 2), opad=(1, 0), groups=2, bias=True)),
    # depthwise, 4x4 kernel, stride 2
    ("depthwise", dict(n=1, c=3, h=5, w=5, f=3, r=4, s=4, stride=(2, 2), pad=(1, 1, 1, 1),
                       dil=(1, 1), opad=(0, 1), groups=3, bias=False)),
    # everything at once: stride 3, dilation 2, groups, asymmetric pad, output pad
    ("mixed", dict(n=2, c=2, h=3, w=4, f=4, r=2, s=3, stride=(3, 3), pad=(0, 2, 1, 0),
                   dil=(2, 2), opad=(2, 1), groups=2, bias=True)),
]


def floats(t):
    """A tensor as little-endian float32 bytes (C order)."""
    flat = t.detach().to(torch.float32).contiguous().reshape(-1).tolist()
    return struct.pack("<%df" % len(flat), *flat)


def make(name, cfg, seed):
    n, c, h, w = cfg["n"], cfg["c"], cfg["h"], cfg["w"]
    f, r, s, groups = cfg["f"], cfg["r"], cfg["s"], cfg["groups"]
    sh, sw = cfg["stride"]
    pt, pb, pl, pr = cfg["pad"]
    dh, dw = cfg["dil"]
    oph, opw = cfg["opad"]
    has_bias = cfg["bias"]
    assert c % groups == 0 and f % groups == 0, name
    assert (oph < sh or oph < dh) and (opw < sw or opw < dw), name

    torch.manual_seed(seed)
    x32 = torch.randn(n, c, h, w, dtype=torch.float32)
    w32 = torch.randn(c, f // groups, r, s, dtype=torch.float32)
    b32 = torch.randn(f, dtype=torch.float32) if has_bias else None

    x = x32.double().requires_grad_(True)
    wt = w32.double().requires_grad_(True)
    b = b32.double().requires_grad_(True) if has_bias else None

    z = F.conv_transpose2d(x, wt, None, stride=(sh, sw), padding=0, output_padding=0,
                           groups=groups, dilation=(dh, dw))
    y = F.pad(z, (-pl, opw - pr, -pt, oph - pb))
    if has_bias:
        y = y + b.view(1, -1, 1, 1)

    ho = (h - 1) * sh - pt - pb + dh * (r - 1) + oph + 1
    wo = (w - 1) * sw - pl - pr + dw * (s - 1) + opw + 1
    assert tuple(y.shape) == (n, f, ho, wo), (name, tuple(y.shape), (n, f, ho, wo))
    if pt == pb and pl == pr:  # PyTorch's own op must agree
        ref = F.conv_transpose2d(x, wt, b, stride=(sh, sw), padding=(pt, pl),
                                 output_padding=(oph, opw), groups=groups, dilation=(dh, dw))
        assert torch.allclose(ref, y, rtol=0, atol=1e-12), name

    dy32 = torch.randn(n, f, ho, wo, dtype=torch.float32)
    (y * dy32.double()).sum().backward()

    ints = [n, c, h, w, f, r, s, sh, sw, pt, pb, pl, pr, dh, dw, oph, opw, groups,
            1 if has_bias else 0]
    out = bytearray(MAGIC)
    out += struct.pack("<i", len(ints))
    out += struct.pack("<%di" % len(ints), *ints)
    out += floats(x32) + floats(w32)
    if has_bias:
        out += floats(b32)
    out += floats(dy32) + floats(y) + floats(x.grad) + floats(wt.grad)
    if has_bias:
        out += floats(b.grad)

    nfloat = 2 * (n * c * h * w + c * (f // groups) * r * s + n * f * ho * wo)
    nfloat += 2 * f if has_bias else 0
    assert len(out) == 88 + 4 * nfloat, name
    return bytes(out)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "fixtures", "deconv")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    names = [nm for nm, _ in CONFIGS]
    assert len(set(names)) == len(names)
    total = 0
    for i, (name, cfg) in enumerate(CONFIGS):
        data = make(name, cfg, seed=2000 + i)
        path = os.path.join(out_dir, name + ".bin")
        with open(path, "wb") as fp:
            fp.write(data)
        total += len(data)
        print("%-36s %6d bytes" % (path, len(data)))
    print("%d files, %d bytes in all" % (len(CONFIGS), total))


if __name__ == "__main__":
    main()
