#!/usr/bin/env python3
"""The PyTorch twin of the U-Net timed on a GPU, case for case as `mindiff_cuda_bench --unet`
times mindiff (bench/bench_unet.cpp), for bench/compare_pytorch_cuda.sh. Prints one JSON line.

  forward:    model(x_t, t=500) under no_grad
  train step: t ~ U{0..999}, eps ~ N(0, I), x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps,
              loss = MSE(model(x_t, t), eps); zero_grad; backward; Adam(lr 2e-4) step

Every timed run ends with torch.cuda.synchronize(); medians and minima over --steps runs after
--warmup untimed ones.
  --precision fp32: TF32 off for matmuls and cuDNN convolutions (torch.backends.cuda.matmul
                    .allow_tf32 = torch.backends.cudnn.allow_tf32 = False)
  --precision tf32: both on
cuDNN's autotuner (torch.backends.cudnn.benchmark) is left at PyTorch's default, off, as a user
gets it; --cudnn-benchmark turns it on. --device cpu runs the same script without a GPU (a smoke
test of the script; its timings say nothing about a GPU).

  python3 bench/twin_cuda.py --twin ../shared/reference --precision tf32
"""
import argparse
import json
import os
import statistics
import sys
import time


def timed(fn, warmup, steps, sync):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t0)
    return times, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--twin", default="../shared/reference", help="folder holding unet_twin.py")
    ap.add_argument("--config", default="small")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "tf32"])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--cudnn-benchmark", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import torch
    import torch.nn.functional as F

    sys.path.insert(0, os.path.abspath(a.twin))
    from unet_twin import CONFIGS, build  # noqa: E402

    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("twin_cuda: no CUDA device for PyTorch (torch.cuda.is_available() is False)")
    if a.config not in CONFIGS:
        sys.exit(f"twin_cuda: --config {a.config}: expected one of {sorted(CONFIGS)}")
    tf32 = a.precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = a.cudnn_benchmark
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)

    torch.manual_seed(a.seed)
    cfg = CONFIGS[a.config]
    model, n_params = build(cfg)
    model.to(dev)
    B = a.batch
    T = 1000
    betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
    abar = torch.cumprod(1.0 - betas, 0).float().to(dev)
    x0 = torch.randn(B, cfg.in_ch, cfg.img, cfg.img, device=dev)
    res = {"case": "pytorch_twin", "config": a.config, "batch": B, "params": n_params,
           "device": torch.cuda.get_device_name() if a.device == "cuda" else "cpu",
           "precision": a.precision, "cudnn_benchmark": a.cudnn_benchmark, "torch": torch.__version__}

    model.eval()
    xt = torch.randn_like(x0)
    tt = torch.full((B,), 500.0, device=dev)
    with torch.no_grad():
        times, _ = timed(lambda: model(xt, tt), a.warmup, a.steps, sync)
    res["fwd_ms_median"] = round(1e3 * statistics.median(times), 3)
    res["fwd_ms_min"] = round(1e3 * min(times), 3)

    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)

    def step():
        t = torch.randint(0, T, (B,), device=dev)
        eps = torch.randn_like(x0)
        ab = abar[t].view(B, 1, 1, 1)
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        loss = F.mse_loss(model(xt, t.float()), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    times, loss = timed(step, a.warmup, a.steps, sync)
    res["train_ms_median"] = round(1e3 * statistics.median(times), 3)
    res["train_ms_min"] = round(1e3 * min(times), 3)
    res["final_loss"] = round(float(loss), 4)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
