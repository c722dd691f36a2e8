"""Checks the trainer's networks against the reference fixtures: the tiny
Stable Diffusion model of ../shared/fixtures (copied into testdata/) is loaded
into models.py's modules and must reproduce diffusers' and transformers'
outputs. Run: python3 train/check_models.py (from the repository root)."""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import models  # noqa: E402
import safetensors_io as st  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "testdata")
TOL = 1e-4


def config(sub):
    return json.load(open(os.path.join(ROOT, "model-diffusers", sub, "config.json")))


def weights(sub, name):
    return st.load(os.path.join(ROOT, "model-diffusers", sub, name))


def report(name, got, want):
    d = (got - want).abs().max().item()
    print(f"{name:28s} max abs diff {d:.3g}")
    return d <= TOL


def main():
    torch.manual_seed(0)
    ok = True
    with torch.no_grad():
        text = models.CLIPText(config("text_encoder"))
        text.load_state_dict(weights("text_encoder", "model.safetensors"))
        fx = st.load(os.path.join(ROOT, "text_encoder.safetensors"))
        ok &= report("text last_hidden_state", text(fx["input_ids"].long()), fx["last_hidden_state"])

        unet = models.UNet(config("unet"))
        unet.load_state_dict(weights("unet", "diffusion_pytorch_model.safetensors"))
        fx = st.load(os.path.join(ROOT, "unet.safetensors"))
        for name, t in [("sq.t999.out", [999, 999]), ("sq.t1.out", [1, 1]), ("sq.t_per_sample.out", [999, 1])]:
            got = unet(fx["sq.sample"], torch.tensor(t), fx["sq.context"])
            ok &= report("unet " + name, got, fx[name])
        got = unet(fx["ns_8x12.sample"], torch.tensor([500, 500]), fx["ns_8x12.context"])
        ok &= report("unet ns_8x12", got, fx["ns_8x12.t500.out"])

        vae = models.VAE(config("vae"))
        vae.load_state_dict(weights("vae", "diffusion_pytorch_model.safetensors"))
        fx = st.load(os.path.join(ROOT, "vae.safetensors"))
        ok &= report("vae decode 8x8", vae.decode(fx["dec_8x8.z"]), fx["dec_8x8.out"])
        ok &= report("vae decode 8x12", vae.decode(fx["dec_8x12.z"]), fx["dec_8x12.out"])
        mean, logvar = vae.encode(fx["enc_64x64.image"])
        ok &= report("vae encode mean", mean, fx["enc_64x64.mean"])
        ok &= report("vae encode logvar", logvar, fx["enc_64x64.logvar"])
    print("OK" if ok else "MISMATCH")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
