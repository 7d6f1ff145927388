#!/usr/bin/python3
"""train_torch.py - end-to-end training speed of nets/fashion-default.net (or,
with --net resnet, nets/fashion-resnet.net) in PyTorch, the baseline of
bench/bench_train.c.

    /usr/bin/python3 bench/train_torch.py [--net default|resnet] [--threads 2] [--images 3200]
                                          [--epochs 5] [--clock wall|cpu] [--csv FILE|-]
                                          [--ccnn FILE]

Run with Debian's Python (python3-torch), not a pyenv `python3`.

The same network, loss, optimizer and batch as the ccnn file: Conv2d 1->32
3x3 pad 1, BatchNorm2d, ReLU, MaxPool2d 2; Conv2d 32->64 3x3 pad 1, BN, ReLU,
MaxPool 2; Linear 3136->128, ReLU, Dropout 0.3, Linear 128->10;
CrossEntropyLoss; Adam lr 1e-3; batch 64; torch.set_num_threads(threads).
The same work per step as ccnn_trainer_epoch: random 28x28 byte images with
random labels, shuffled every epoch, each batch normalised from bytes
((p/255 - 0.2860)/0.3530), forward, loss, backward, Adam step. One untimed
warm-up epoch on a tenth of the images, then the median images/s of the
timed epochs over all of them.

--net resnet: the twin of nets/fashion-resnet.net: a stem (Conv2d 1->32 3x3
pad 1 without bias, BN, ReLU), four residual blocks (conv-BN-ReLU-conv-BN,
plus the input or, where the block halves the size, a 1x1 stride-2 conv and
BN; then ReLU) at 32, 64 (stride 2), 64 and 128 (stride 2) channels, global
average pooling, Linear 128->10; SGD lr 0.05, Nesterov momentum 0.9, weight
decay 5e-4, a cosine schedule stepped per epoch; batch 128; each batch
shifted by up to 2 pixels (zero padding, a random crop per image) and
flipped left-right at random per image, as ccnn_augment does.

Peak memory: max RSS of this process (VmHWM from /proc/self/status, else
resource.getrusage - see max_rss_kb), which includes the Python interpreter
and libtorch; base RSS is the resident set after `import torch`, before the
model and data exist.

--csv writes   train,fashion-default.net,THREADS,BATCH,IMAGES,IMAGES_PER_S,MAXRSS_KB,BASE_RSS_KB
(bench_train's format); --ccnn FILE reads ccnn's `train` line from such a
file and prints the ratio. Only reports; never fails on speed.
"""
import argparse
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn


def rss_now_kb():
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGESIZE") // 1024
    except OSError:
        return -1


def max_rss_kb():
    """Peak resident set of this process image. VmHWM (Linux) first: the
    getrusage figure survives execve, so a child started by a large parent
    (bench_torch.py, ~600 MB after its conv runs) would report the parent's
    size; resource.getrusage where /proc is missing."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def make_net():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))


class Block(nn.Module):
    """x -> conv-bn-relu-conv-bn -> (+ shortcut) -> relu, as in fashion-resnet.net."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout))
        self.short = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                    nn.BatchNorm2d(cout)) if stride != 1 else nn.Identity())

    def forward(self, x):
        return torch.relu(self.main(x) + self.short(x))


def make_resnet():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        Block(32, 32, 1), Block(32, 64, 2), Block(64, 64, 1), Block(64, 128, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))


def augment(x, g, pad=2):
    """Each image shifted by up to pad pixels (zeros come in) and flipped
    left-right with probability 1/2."""
    n, _, h, w = x.shape
    xp = nn.functional.pad(x, (pad, pad, pad, pad))
    off = torch.randint(0, 2 * pad + 1, (n, 2), generator=g).tolist()
    flip = torch.randint(0, 2, (n,), generator=g).tolist()
    out = torch.empty_like(x)
    for i in range(n):
        a, b = off[i]
        v = xp[i, :, a:a + h, b:b + w]
        out[i] = v.flip(-1) if flip[i] else v
    return out


def measure(threads=2, images=3200, epochs=5, net="default", clock=time.perf_counter):
    base_rss = rss_now_kb()
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(12345)
    data = torch.randint(0, 256, (images, 1, 28, 28), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (images,), generator=g)
    if net == "resnet":
        batch = 128
        model = make_resnet()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                              weight_decay=5e-4)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20)
    else:
        batch = 64
        model = make_net()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        sched = None
    model.train()
    loss_fn = nn.CrossEntropyLoss()

    def epoch(n):
        order = torch.randperm(n, generator=g)
        loss_sum, correct = 0.0, 0
        for b in range(0, n, batch):
            idx = order[b:b + batch]
            x = (data[idx].float() / 255.0 - 0.2860) / 0.3530
            if net == "resnet":
                x = augment(x, g)
            y = labels[idx]
            out = model(x)
            loss = loss_fn(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += int((out.argmax(1) == y).sum())
        if sched:
            sched.step()
        return loss_sum / n

    epoch(max(images // 10, batch))  # warm-up
    ips = []
    for _ in range(epochs):
        t0 = clock()
        epoch(images)
        ips.append(images / (clock() - t0))
    return {"net": net, "threads": threads, "batch": batch, "images": images, "epochs": epochs,
            "images_per_s": statistics.median(ips),
            "maxrss_kb": max_rss_kb(),
            "base_rss_kb": base_rss}


def report(r, out=sys.stdout):
    print(f"PyTorch {torch.__version__} training: {r['net']} network, batch {r['batch']}, "
          f"{r['threads']} threads, {r['images']} random images x {r['epochs']} epochs (median)",
          file=out)
    print(f"  {r['images_per_s']:.0f} images/s ({1e3 * r['batch'] / r['images_per_s']:.1f} ms a "
          f"batch), max RSS {r['maxrss_kb'] / 1024:.1f} MB ({r['base_rss_kb'] / 1024:.1f} MB "
          f"after import torch)", file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--net", choices=["default", "resnet"], default="default")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=3200)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="cpu: time by process CPU time (with --threads 1 on a shared machine)")
    ap.add_argument("--csv", help="append the machine-readable line to FILE ('-': stdout)")
    ap.add_argument("--ccnn", help="CSV with ccnn's `train` line (bench_train --csv)")
    a = ap.parse_args()
    r = measure(a.threads, a.images, a.epochs, a.net,
                time.process_time if a.clock == "cpu" else time.perf_counter)
    report(r)
    line = (f"train,fashion-{a.net}.net,{r['threads']},{r['batch']},{r['images']},"
            f"{r['images_per_s']:.2f},{r['maxrss_kb']},{r['base_rss_kb']}")
    if a.csv == "-":
        print(line)
    elif a.csv:
        with open(a.csv, "a") as fh:
            print(line, file=fh)
    if a.ccnn:
        with open(a.ccnn) as fh:
            for f in (l.strip().split(",") for l in fh):
                if f[0] == "train" and len(f) >= 8:
                    c_ips, c_rss = float(f[5]), int(f[6])
                    print(f"  ccnn {c_ips:.0f} images/s, max RSS {c_rss / 1024:.1f} MB; "
                          f"ccnn/torch {c_ips / r['images_per_s']:.2f}x images/s")


if __name__ == "__main__":
    main()
