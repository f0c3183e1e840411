"""Training throughput against the machine's own 3x3-convolution peak, in one run.

    python -m benchmarks.throughput [--device cpu] [--seconds 20] [--batch-size B] [--patch-size P]

Measures (1) the peak FLOP/s of a 3x3 convolution (forward, channels_last, 64 -> 64
channels, in bf16 autocast and in fp32) on this device, and (2) the training throughput of
each model size through the real training loop (sampling, augmentation, forward, backward,
optimizer), by default with the default batch and patch size. Training FLOPs are counted as
3x the forward convolution FLOPs (forward + two backward passes). A shared machine's speed
drifts (the conv peak alone swung 4x within minutes here), so the two are interleaved:
one-second windows of training alternate with one-second windows of the peak convolution,
and the share of the peak is taken per adjacent pair of windows; reported are the median
share and its interquartile range.

To show where a training step's time goes, each model's network is also timed alone
(forward + backward on a fixed batch: no sampling, augmentation or optimizer), and once more
with BatchNorm and ReLU replaced by identities (convolutions, pooling and concatenation only).
"""

import argparse
import json
import time

import numpy as np
import torch


def conv_peak(device, bf16: bool, seconds: float = 3.0) -> float:
    conv = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False).to(device).to(memory_format=torch.channels_last)
    x = torch.randn(8, 64, 128, 128, device=device).contiguous(memory_format=torch.channels_last)
    flops = 2 * 9 * 64 * 64 * 8 * 128 * 128
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        for _ in range(3):
            conv(x)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            conv(x)
            n += 1
        if device.type == "cuda":
            torch.cuda.synchronize()
    return n * flops / (time.perf_counter() - t0)


def network_seconds(net, batch: int, patch: int, device, bf16: bool, strip: bool, seconds: float = 3.0) -> float:
    """Seconds per forward + backward of ``net`` (a copy) on one fixed batch."""
    import copy

    net = copy.deepcopy(net).to(device).train()
    if strip:
        for m in list(net.modules()):
            for name, child in m.named_children():
                if isinstance(child, (torch.nn.BatchNorm2d, torch.nn.ReLU)):
                    setattr(m, name, torch.nn.Identity())
    net = net.to(memory_format=torch.channels_last)
    x = torch.randn(batch, net.config.in_channels, patch, patch, device=device).contiguous(memory_format=torch.channels_last)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = net(x)
        out.float().square().mean().backward()

    for _ in range(3):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--patch-size", type=int, default=None)
    args = ap.parse_args()
    extra = {k: getattr(args, k) for k in ("batch_size", "patch_size") if getattr(args, k)}
    device = torch.device(args.device)

    from napari_unet.core.samples import make_sample
    from napari_unet.core.config import TrainConfig, model_preset
    from napari_unet.core.device import use_bf16
    from napari_unet.core.model import conv_flops_per_pixel
    from napari_unet.core.train import train

    bf16 = use_bf16(device)
    report = {"device": args.device, "threads": torch.get_num_threads(), "bf16": bf16,
              "conv_peak_bf16_gflops": round(conv_peak(device, True) / 1e9, 1),
              "conv_peak_fp32_gflops": round(conv_peak(device, False) / 1e9, 1)}
    s = make_sample(512, seed=0)
    window = 1.0
    for size in ("small", "default", "large"):
        cfg = TrainConfig(steps=None, time_budget=10 * args.seconds, device=args.device, **extra)
        steps = train(s.image, s.strokes, cfg, model_config=model_preset(size))
        for _ in range(10):  # warm-up: oneDNN primitives, allocator
            event = next(steps)
        flops_per_step = 3 * conv_flops_per_pixel(event.model.config) * cfg.batch_size * cfg.patch_size**2
        trained, peaks, n_steps, train_s = [], [], 0, 0.0
        for _ in range(max(2, int(args.seconds / (2 * window)))):
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < window:
                event = next(steps)  # one optimizer step; the loss is read back, so it has finished
                n += 1
            dt = time.perf_counter() - t0
            n_steps, train_s = n_steps + n, train_s + dt
            trained.append(n * flops_per_step / dt)
            peaks.append(conv_peak(device, bf16, seconds=window))
        steps.close()
        share = np.asarray(trained) / np.asarray(peaks)
        sps = n_steps / train_s
        net_s = network_seconds(event.model.net, cfg.batch_size, cfg.patch_size, device, bf16, strip=False)
        conv_s = network_seconds(event.model.net, cfg.batch_size, cfg.patch_size, device, bf16, strip=True)
        report[size] = {"batch": cfg.batch_size, "patch": cfg.patch_size, "steps_per_s": round(sps, 2),
                        "mpx_per_s": round(sps * cfg.batch_size * cfg.patch_size**2 / 1e6, 3),
                        "gflops": round(float(np.median(trained)) / 1e9, 1),
                        "peak_gflops_range": [round(min(peaks) / 1e9), round(max(peaks) / 1e9)],
                        "share_of_conv_peak": round(float(np.median(share)), 3),
                        "share_iqr": [round(float(q), 3) for q in np.percentile(share, [25, 75])],
                        "windows": len(share),
                        "train_step_ms": round(1000 / sps, 1), "network_alone_ms": round(1000 * net_s, 1),
                        "without_batchnorm_relu_ms": round(1000 * conv_s, 1)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
