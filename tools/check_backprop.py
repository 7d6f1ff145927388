#!/usr/bin/python3
"""check_backprop.py - runs the PyTorch recipes of docs/backprop.md section 9
against `ccnn explain --json` (whose numbers come from ccnn's reference
convolution): section 7's example and random layers covering every conv
parameter. Needs Debian's python3-torch; run after `make`:

    /usr/bin/python3 tools/check_backprop.py [--ccnn build/ccnn] [--count 40]

Exits 0 when every tensor matches exactly (the values are small integers),
1 otherwise."""
import argparse
import json
import random
import subprocess
import sys

import torch
import torch.nn.functional as F
from torch.nn.grad import conv2d_input, conv2d_weight


def explain(ccnn, n, c, h, w, k, r, s, sh, sw, pad, dh, dw, g, bias, seed):
    args = [ccnn, "explain", "--input", f"{n}x{c}x{h}x{w}", "--filters", str(k), "--size", f"{r}x{s}",
            "--stride", f"{sh}x{sw}", "--pad", ",".join(map(str, pad)), "--dilation", f"{dh}x{dw}",
            "--groups", str(g), "--seed", str(seed), "--json"] + ([] if bias else ["--no-bias"])
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


def check(j):
    cfg, t = j["config"], j["tensors"]
    n, c, h, w, k, r, s = (cfg[x] for x in "nchwkrs")
    (sh, sw), (pt, pb, pl, pr), (dil_h, dil_w), G = cfg["stride"], cfg["pad"], cfg["dilation"], cfg["groups"]
    P, Q, rem_h, rem_w = (j["output"][x] for x in ("p", "q", "rem_h", "rem_w"))
    T = lambda a, *shape: torch.tensor(a, dtype=torch.float64).reshape(*shape)
    x, wt, dy = T(t["x"], n, c, h, w), T(t["w"], k, c // G, r, s), T(t["dy"], n, k, P, Q)
    b = T(t["b"], k) if cfg["bias"] else None
    H, W = h, w

    # section 9, as printed there
    opts = dict(stride=(sh, sw), dilation=(dil_h, dil_w), groups=G)
    xpad = F.pad(x, (pl, pr, pt, pb))
    y = F.conv2d(xpad, wt, b, **opts)
    dxpad = F.conv_transpose2d(dy, wt, None, output_padding=(rem_h, rem_w), **opts)
    dx = dxpad[:, :, pt:pt + H, pl:pl + W]
    dx2 = conv2d_input(xpad.shape, wt, dy, **opts)[:, :, pt:pt + H, pl:pl + W]
    dwt = conv2d_weight(xpad, wt.shape, dy, **opts)
    db = dy.sum(dim=(0, 2, 3))

    got = {"y": y, "dx": dx, "dx (conv2d_input)": dx2, "dw": dwt}
    want = {"y": t["y"], "dx": t["dx"], "dx (conv2d_input)": t["dx"], "dw": t["dw"]}
    if cfg["bias"]:
        got["db"], want["db"] = db, t["db"]
    bad = [name for name in got if got[name].flatten().tolist() != [float(v) for v in want[name]]]
    if pt == pb and pl == pr:  # the symmetric-padding variant
        ys = F.conv2d(x, wt, b, padding=(pt, pl), **opts)
        dxs = F.conv_transpose2d(dy, wt, padding=(pt, pl), output_padding=(rem_h, rem_w), **opts)
        dws = conv2d_weight(x, wt.shape, dy, padding=(pt, pl), **opts)
        for name, a, ref in (("y sym", ys, t["y"]), ("dx sym", dxs, t["dx"]), ("dw sym", dws, t["dw"])):
            if a.flatten().tolist() != [float(v) for v in ref]:
                bad.append(name)
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ccnn", default="build/ccnn")
    ap.add_argument("--count", type=int, default=40)
    a = ap.parse_args()
    rng = random.Random(12)
    configs = [(2, 2, 5, 5, 4, 2, 2, 2, 2, (1, 0, 0, 1), 2, 2, 2, True, 330)]  # section 7
    while len(configs) < a.count + 1:
        g = rng.randint(1, 3)
        r, s, dh, dw = rng.randint(1, 4), rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 3)
        pad = tuple(rng.randint(0, 2) for _ in range(4))
        h = max(1, dh * (r - 1) + 1 - pad[0] - pad[1]) + rng.randint(0, 6)
        w = max(1, dw * (s - 1) + 1 - pad[2] - pad[3]) + rng.randint(0, 6)
        configs.append((rng.randint(1, 3), g * rng.randint(1, 3), h, w, g * rng.randint(1, 3), r, s,
                        rng.randint(1, 3), rng.randint(1, 3), pad, dh, dw, g, rng.random() < 0.5,
                        rng.randint(0, 1000)))
    failed = 0
    for cfg in configs:
        bad = check(explain(a.ccnn, *cfg))
        if bad:
            failed += 1
            print("MISMATCH", cfg, ", ".join(bad))
    print(f"{len(configs) - failed} of {len(configs)} layers: PyTorch's recipes give ccnn's numbers")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
