#!/usr/bin/python3
"""train_torch.py - end-to-end training speed of nets/fashion-default.net in
PyTorch, the baseline of bench/bench_train.c.

    /usr/bin/python3 bench/train_torch.py [--threads 2] [--images 3200] [--epochs 5]
                                          [--csv FILE|-] [--ccnn FILE]

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


def measure(threads=2, images=3200, epochs=5, batch=64):
    base_rss = rss_now_kb()
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(12345)
    data = torch.randint(0, 256, (images, 1, 28, 28), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (images,), generator=g)
    model = make_net()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def epoch(n):
        order = torch.randperm(n, generator=g)
        loss_sum, correct = 0.0, 0
        for b in range(0, n, batch):
            idx = order[b:b + batch]
            x = (data[idx].float() / 255.0 - 0.2860) / 0.3530
            y = labels[idx]
            out = model(x)
            loss = loss_fn(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += int((out.argmax(1) == y).sum())
        return loss_sum / n

    epoch(max(images // 10, batch))  # warm-up
    ips = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        epoch(images)
        ips.append(images / (time.perf_counter() - t0))
    return {"threads": threads, "batch": batch, "images": images, "epochs": epochs,
            "images_per_s": statistics.median(ips),
            "maxrss_kb": max_rss_kb(),
            "base_rss_kb": base_rss}


def report(r, out=sys.stdout):
    print(f"PyTorch {torch.__version__} training: default network, batch {r['batch']}, "
          f"{r['threads']} threads, {r['images']} random images x {r['epochs']} epochs (median)",
          file=out)
    print(f"  {r['images_per_s']:.0f} images/s ({1e3 * r['batch'] / r['images_per_s']:.1f} ms a "
          f"batch), max RSS {r['maxrss_kb'] / 1024:.1f} MB ({r['base_rss_kb'] / 1024:.1f} MB "
          f"after import torch)", file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=3200)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--csv", help="append the machine-readable line to FILE ('-': stdout)")
    ap.add_argument("--ccnn", help="CSV with ccnn's `train` line (bench_train --csv)")
    a = ap.parse_args()
    r = measure(a.threads, a.images, a.epochs)
    report(r)
    line = (f"train,fashion-default.net,{r['threads']},{r['batch']},{r['images']},"
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
