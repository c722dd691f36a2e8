"""PyTorch CPU timing of Stable Diffusion 1.5's U-Net and VAE decoder, to set
beside `imggen bench` (README.md, "Benchmarks").

It builds the SD 1.5 U-Net (860M parameters) and VAE decoder from models.py
with random weights (PyTorch's default init), float32, eval mode, under
torch.inference_mode(), and times
  - one U-Net call on batch 2 (latents [2,4,s/8,s/8], timesteps [2],
    text states [2,77,768]), as imggen's one step with guidance: warm-up
    calls, then timed calls;
  - the VAE decode of one latent [1,4,s/8,s/8] the same way.
It prints each wall time, the median and GFLOPS = imggen's analytic FLOP
count (internal/bench/flops.go) / median, then the peak RSS.

Run (from the repository root, Debian's torch 1.13; the U-Net weights alone are 3.4 GB):
  /usr/bin/python3 train/bench_torch.py --size 256 --threads 2
  /usr/bin/python3 train/bench_torch.py --size 512 --threads 2 --vae-repeats 2 --json
  /usr/bin/python3 train/bench_torch.py --tiny      # small channels, 64x64: checks the code path in seconds
  /usr/bin/python3 train/bench_torch.py --convs --threads 2   # 3x3 convolutions only (oneDNN)

--convs times single 3x3 convolutions (batch 1, stride 1, pad 1) at the
shapes of internal/nn's BenchmarkConv3x3_* instead: the layer that
dominates both networks, and the one this torch runs through oneDNN, so it
is a fair side-by-side even with the reference BLAS described below.

Differences from diffusers 0.27 that bear on speed:
  - Attention. On torch < 2.0 (no F.scaled_dot_product_attention) models.py
    computes (q @ k^T) * scale, softmax, @ v on (B, heads, N, d) views;
    diffusers 0.27's default there is AttnProcessor: heads folded into the
    batch (contiguous (B*heads, N, d) copies), baddbmm(alpha=scale), softmax,
    bmm. Same products; models.py makes one extra elementwise pass (the scale)
    over the B*heads*N*N scores, ~1 GB per self-attention at 512x512 on the
    first level. (On torch >= 2.0 models.py uses SDPA, as does diffusers'
    AttnProcessor2_0.) Everything else (resnets, GEGLU, 1x1-conv proj_in/out,
    nearest upsample + conv) is the same sequence of ops as diffusers.
  - models.py's U-Net zero-inits conv_out (as for training); this script
    re-initialises it so the output is non-zero and the finite check means
    something. It does not change the work.
  - Debian's torch is built with BLAS_INFO=generic, i.e. the system
    libblas.so.3; convolutions go through oneDNN, but Linear/matmul/bmm go
    through that BLAS, which (with only libblas3 installed) is the
    single-threaded reference Netlib BLAS. The attention and transformer
    linears are then far slower than with a PyPI (MKL) torch.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
import models  # noqa: E402

# imggen's analytic GFLOP counts for SD 1.5 (README.md, internal/bench/flops.go).
UNET_GFLOP = {256: 360.2, 512: 1606.5}  # one call, batch 2
VAE_GFLOP = {256: 622.2, 512: 2514.5}   # decode, batch 1

SD15_UNET = {
    "in_channels": 4, "out_channels": 4,
    "block_out_channels": [320, 640, 1280, 1280], "layers_per_block": 2,
    "cross_attention_dim": 768, "attention_head_dim": 8,  # diffusers' name for the head count
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    "norm_num_groups": 32, "norm_eps": 1e-5, "sample_size": 64,
}
SD15_VAE = {
    "in_channels": 3, "out_channels": 3, "latent_channels": 4,
    "block_out_channels": [128, 256, 512, 512], "layers_per_block": 2,
    "norm_num_groups": 32, "sample_size": 512,
}
# --tiny: the same block structure with narrow channels, to check the code path.
TINY_UNET = dict(SD15_UNET, block_out_channels=[32, 64, 64, 64])
TINY_VAE = dict(SD15_VAE, block_out_channels=[32, 32, 64, 64])


def timed(fn, warmup, repeats):
    """Wall seconds of each of repeats calls of fn after warmup calls, and the last output."""
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def stage(name, fn, warmup, repeats, gflop, log):
    times, out = timed(fn, warmup, repeats)
    med = statistics.median(times)
    r = {
        "times_s": [round(t, 4) for t in times], "median_s": round(med, 4),
        "gflop": gflop, "gflops": round(gflop / med, 2) if gflop else None,
        "out_shape": list(out.shape), "finite": bool(torch.isfinite(out).all()),
        "out_std": float(out.std()),
    }
    log(f"{name:10s} " + " ".join(f"{t:.3f}s" for t in times) + f"  median {med:.3f}s"
        + (f"  {r['gflops']:.1f} GFLOPS ({gflop} GFLOP)" if gflop else "")
        + f"  out {r['out_shape']} finite={r['finite']} std={r['out_std']:.3g}")
    return r


# (in, out, side) of internal/nn's BenchmarkConv3x3_* benchmarks.
CONV_SHAPES = [(320, 320, 64), (1280, 1280, 8), (128, 128, 256), (128, 128, 512), (512, 512, 128)]


def convs(repeats, log):
    """Times each 3x3 convolution of CONV_SHAPES: 1 warm-up, then repeats calls."""
    res = {}
    for cin, cout, side in CONV_SHAPES:
        conv = torch.nn.Conv2d(cin, cout, 3, padding=1).eval()
        x = torch.randn(1, cin, side, side)
        gflop = 2 * cin * cout * 9 * side * side / 1e9
        res[f"conv3x3_{cin}_{side}x{side}"] = stage(f"conv3x3 {cin}->{cout} {side}x{side}", lambda: conv(x),
                                                    1, repeats, round(gflop, 3), log)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=512, help="image side in pixels (latent side = size/8)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--warmup", type=int, default=1, help="U-Net warm-up calls")
    ap.add_argument("--repeats", type=int, default=3, help="U-Net timed calls")
    ap.add_argument("--vae-warmup", type=int, default=1)
    ap.add_argument("--vae-repeats", type=int, default=2)
    ap.add_argument("--no-vae", action="store_true", help="time the U-Net only")
    ap.add_argument("--tiny", action="store_true", help="narrow channels, size 64, one timed call each")
    ap.add_argument("--json", action="store_true", help="also print one JSON object on the last line")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--convs", action="store_true", help="time single 3x3 convolutions instead (see the docstring)")
    a = ap.parse_args()
    if a.tiny:
        a.size, a.repeats, a.vae_repeats = 64, 1, 1

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    log = print if not a.json else (lambda *s: print(*s, file=sys.stderr))
    info = torch.__config__.parallel_info().splitlines()
    blas = [w for w in torch.__config__.show().replace(",", " ").split() if w.startswith("BLAS_INFO=")]
    log(f"torch {torch.__version__}  get_num_threads() = {torch.get_num_threads()}  "
        f"mkldnn {torch.backends.mkldnn.is_available()}  {' '.join(blas)}  SDPA {models.USE_SDPA}")
    log("\n".join(info[:5]))
    if a.convs:
        with torch.inference_mode():
            res = {"torch": torch.__version__, "threads": torch.get_num_threads(), "convs": convs(a.repeats, log)}
        if a.json:
            print(json.dumps(res))
        return

    ucfg, vcfg = (TINY_UNET, TINY_VAE) if a.tiny else (SD15_UNET, SD15_VAE)
    ls = a.size // 8
    t0 = time.perf_counter()
    unet = models.UNet(ucfg).eval()
    unet.conv_out.reset_parameters()  # models.py zero-inits it for training
    vae = None if a.no_vae else models.VAE(vcfg).eval()
    decoder_params = 0 if vae is None else models.count(vae.decoder) + models.count(vae.post_quant_conv)
    log(f"built in {time.perf_counter() - t0:.1f}s: U-Net {models.count(unet):,} parameters"
        + ("" if vae is None else f", VAE decoder {decoder_params:,}")
        + f"; size {a.size}x{a.size}, latents {ls}x{ls}" + ("  [tiny]" if a.tiny else ""))

    res = {"torch": torch.__version__, "threads": torch.get_num_threads(), "size": a.size, "tiny": a.tiny,
           "unet_params": models.count(unet), "vae_decoder_params": decoder_params}
    flops_known = not a.tiny
    with torch.inference_mode():
        x = torch.randn(2, 4, ls, ls)
        t = torch.tensor([999, 999])
        ctx = torch.randn(2, 77, 768)
        res["unet"] = stage("unet", lambda: unet(x, t, ctx), a.warmup, a.repeats,
                            UNET_GFLOP.get(a.size) if flops_known else None, log)
        del unet
        if vae is not None:
            z = torch.randn(1, 4, ls, ls)
            res["vae_decode"] = stage("vae_decode", lambda: vae.decode(z), a.vae_warmup, a.vae_repeats,
                                      VAE_GFLOP.get(a.size) if flops_known else None, log)
    res["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    log(f"peak RSS {res['peak_rss_kib']} KiB ({res['peak_rss_kib'] / 2**20:.2f} GiB)")
    if a.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
