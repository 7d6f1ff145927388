#!/usr/bin/python3
"""gen_optim_fixtures.py - PyTorch reference runs of the optimizers.

Run with Debian's Python (python3-torch): /usr/bin/python3 tools/gen_optim_fixtures.py

For each configuration, a vector of parameters takes STEPS optimizer steps
with given gradients (set directly, so the run does not depend on a model).
File format (little-endian), tests/fixtures/optim/NAME.bin:
  magic  "CCNNOPT1"
  int32  n, steps
  float32 lr, momentum, weight_decay, beta1, beta2, eps
  int32  optimizer (0 sgd, 1 adam, 2 adamw), nesterov
  float32 p0[n], grads[steps][n], p_final[n]
"""
import os
import struct
import sys

import torch

N, STEPS = 37, 6
CONFIGS = [
    # name, optimizer, lr, momentum, nesterov, weight_decay
    ("sgd", 0, 0.1, 0.0, 0, 0.0),
    ("sgd_wd", 0, 0.1, 0.0, 0, 0.01),
    ("sgd_momentum", 0, 0.05, 0.9, 0, 0.0),
    ("sgd_nesterov_wd", 0, 0.05, 0.9, 1, 5e-4),
    ("adam", 1, 1e-2, 0.0, 0, 0.0),
    ("adam_l2", 1, 1e-2, 0.0, 0, 0.1),
    ("adamw", 2, 1e-2, 0.0, 0, 0.1),
]
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def run(opt, lr, mom, nesterov, wd, p0, grads):
    p = torch.nn.Parameter(p0.clone())
    if opt == 0:
        o = torch.optim.SGD([p], lr=lr, momentum=mom, nesterov=bool(nesterov), weight_decay=wd)
    elif opt == 1:
        o = torch.optim.Adam([p], lr=lr, betas=(BETA1, BETA2), eps=EPS, weight_decay=wd)
    else:
        o = torch.optim.AdamW([p], lr=lr, betas=(BETA1, BETA2), eps=EPS, weight_decay=wd)
    for g in grads:
        p.grad = g.clone()
        o.step()
    return p.detach()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "tests", "fixtures", "optim")
    os.makedirs(out, exist_ok=True)
    for i, (name, opt, lr, mom, nesterov, wd) in enumerate(CONFIGS):
        torch.manual_seed(100 + i)
        p0 = torch.randn(N)
        grads = [torch.randn(N) * (1 + t) for t in range(STEPS)]
        pf = run(opt, lr, mom, nesterov, wd, p0, grads)
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(b"CCNNOPT1")
            f.write(struct.pack("<ii", N, STEPS))
            f.write(struct.pack("<6f", lr, mom, wd, BETA1, BETA2, EPS))
            f.write(struct.pack("<ii", opt, nesterov))
            for t in [p0] + grads + [pf]:
                f.write(t.numpy().astype("<f4").tobytes())
    print("wrote", len(CONFIGS), "fixtures to", out)


if __name__ == "__main__":
    main()
