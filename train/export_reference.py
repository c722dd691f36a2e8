"""Writes reference tensors of the exported built-in model for the Go tests:
the trainer's own networks (models.py, checked against diffusers by
check_models.py) run in float32 on the float16 weights, on fixed inputs.

  python3 train/export_reference.py MODEL_DIR IDS_JSONL IMAGE_U8 OUT.safetensors

IDS_JSONL holds `imggen tokenize --json` lines for the prompts; IMAGE_U8 is a
128x128x3 image (raw bytes) for the encoder.
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import models  # noqa: E402
import safetensors_io as st  # noqa: E402


def load(folder, sub, name):
    return {k: v.float() for k, v in st.load(os.path.join(folder, sub, name)).items()}


def main():
    folder, ids_path, image_path, out = sys.argv[1:5]
    cfg = lambda sub: json.load(open(os.path.join(folder, sub, "config.json")))  # noqa: E731
    text = models.CLIPText(cfg("text_encoder"))
    text.load_state_dict(load(folder, "text_encoder", "model.safetensors"))
    unet = models.UNet(cfg("unet"))
    unet.load_state_dict(load(folder, "unet", "diffusion_pytorch_model.safetensors"))
    vae = models.VAE(cfg("vae"))
    vae.load_state_dict(load(folder, "vae", "diffusion_pytorch_model.safetensors"))

    lines = [json.loads(l) for l in open(ids_path) if l.strip()]
    prompts = [l["prompt"] for l in lines]
    ids = torch.tensor([l["ids"] for l in lines], dtype=torch.int64)
    g = torch.Generator().manual_seed(1234)
    ref = {"text.ids": ids.float()}  # float32 holds every id exactly
    with torch.no_grad():
        ctx = text(ids)
        ref["text.out"] = ctx
        sample = torch.randn(len(prompts), 4, 16, 16, generator=g)
        t = torch.tensor([981, 21][: len(prompts)] + [500] * max(0, len(prompts) - 2))
        ref["unet.sample"], ref["unet.t"] = sample, t.float()
        ref["unet.out"] = unet(sample, t, ctx)
        z = torch.randn(1, 4, 16, 16, generator=g)
        ref["vae.z"] = z
        ref["vae.decoded"] = vae.decode(z)
        img = np.fromfile(image_path, dtype=np.uint8)[: 128 * 128 * 3].reshape(1, 128, 128, 3)
        x = torch.from_numpy(img.copy()).permute(0, 3, 1, 2).float() / 127.5 - 1
        ref["vae.image"] = x
        ref["vae.mean"], ref["vae.logvar"] = vae.encode(x)
    st.save(ref, out, {"prompts": json.dumps(prompts), "model": os.path.basename(os.path.normpath(folder)),
                       "desc": "built-in model reference: text.out = text(text.ids); unet.out = unet(unet.sample, unet.t, "
                               "text.out); vae.decoded = decode(vae.z) (no scaling); vae.mean/logvar = encode(vae.image)"})
    print("wrote", out, {k: tuple(v.shape) for k, v in ref.items()})


if __name__ == "__main__":
    main()
