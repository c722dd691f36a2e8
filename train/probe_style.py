"""Does the built-in VAE's latent carry the style filters?

Encodes pictures of a `cmd/mkworld` dataset (images.u8, meta.jsonl) with
the VAE in weights/builtin and fits a least-squares linear classifier of
the style on simple latent statistics (per channel: mean, standard
deviation, mean high-pass magnitude), trained on the first half of the
pictures and scored on the second. If a style is at chance here, the
encoder has dropped it, and a decoder fine-tune alone cannot draw it.

  /usr/bin/python3 train/probe_style.py data/world20k [--n 1500]
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import models  # noqa: E402
import safetensors_io as st  # noqa: E402

STYLES = ["plain", "oil painting", "watercolor", "pixel art", "sketch"]


def features(z):
    """[n, 4, h, w] latents -> [n, 12] per-channel mean, std, high-pass magnitude."""
    hp = z - 0.25 * (np.roll(z, 1, -1) + np.roll(z, -1, -1) + np.roll(z, 1, -2) + np.roll(z, -1, -2))
    return np.concatenate([z.mean((-1, -2)), z.std((-1, -2)), np.abs(hp).mean((-1, -2))], -1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset")
    ap.add_argument("--model", default="weights/builtin")
    ap.add_argument("--n", type=int, default=1500, help="pictures to encode")
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count())

    cfg = json.load(open(os.path.join(a.model, "vae", "config.json")))
    vae = models.VAE(cfg).eval()
    w = st.load(os.path.join(a.model, "vae", "diffusion_pytorch_model.safetensors"))
    vae.load_state_dict({k: v.float() for k, v in w.items()})

    size = cfg["sample_size"]
    meta = [json.loads(l) for l, _ in zip(open(os.path.join(a.dataset, "meta.jsonl")), range(a.n))]
    img = np.fromfile(os.path.join(a.dataset, "images.u8"), dtype=np.uint8, count=len(meta) * size * size * 3)
    x = torch.from_numpy(img.reshape(-1, size, size, 3).copy()).permute(0, 3, 1, 2).float() / 127.5 - 1
    y = np.array([STYLES.index(m["style"]) for m in meta])
    with torch.inference_mode():
        z = torch.cat([vae.encode(x[i:i + 64])[0] for i in range(0, len(x), 64)]).numpy()

    f = features(z)
    half = len(f) // 2
    mu, sd = f[:half].mean(0), f[:half].std(0) + 1e-6
    design = lambda v: np.c_[(v - mu) / sd, np.ones(len(v))]  # noqa: E731
    coef = np.linalg.lstsq(design(f[:half]), np.eye(len(STYLES))[y[:half]], rcond=None)[0]
    pred = (design(f[half:]) @ coef).argmax(1)
    yt = y[half:]
    print(f"{len(f)} pictures, {half} to fit, {len(f) - half} to score; chance is about {1 / len(STYLES):.2f}")
    for k, s in enumerate(STYLES):
        got = pred[yt == k]
        print(f"  {s:13s} {len(got):4d} scored, {np.mean(got == k):.2f} recognised; "
              f"taken for: {', '.join(f'{STYLES[j]} {np.mean(got == j):.2f}' for j in range(len(STYLES)) if j != k and np.mean(got == j) >= 0.1)}")


if __name__ == "__main__":
    main()
