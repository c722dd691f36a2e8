"""Fine-tunes only the VAE decoder of an exported model so that it draws the
world's style textures (brush strokes, paper grain, pixel blocks) that pixel
losses average away. The encoder, and so the latent space the U-Net was
trained on, stays as it is: the U-Net needs no retraining.

Loss: the trainer's pixel losses plus a texture loss, the distance between
Gram matrices (Gatys et al. 2016) of a fixed random convolutional feature
map at two scales, which compares texture statistics regardless of where
each stroke falls.

  python3 train/finetune_decoder.py --data data/world --model weights/builtin \\
      --seconds 2400 --export data/model/builtin
"""

import argparse
import copy
import json
import os
import shutil
import time

import torch
import torch.nn.functional as F

import models
import safetensors_io
from train import World, log, pixel_loss, psnr


class RandomFeatures(torch.nn.Module):
    """Two fixed random 3x3 conv layers with ReLU; texture statistics only."""

    def __init__(self, seed=7):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w1 = torch.nn.Parameter(torch.randn(32, 3, 3, 3, generator=g) / 5.2, requires_grad=False)
        self.w2 = torch.nn.Parameter(torch.randn(48, 32, 3, 3, generator=g) / 17.0, requires_grad=False)

    def forward(self, x):
        a = F.relu(F.conv2d(x, self.w1, padding=1))
        b = F.relu(F.conv2d(a, self.w2, padding=1))
        return [a, b]


def gram(f):
    n, c, h, w = f.shape
    f = f.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (h * w)


def texture_loss(feat, y, x):
    loss = 0.0
    for scale in (1, 2):
        ys, xs = (y, x) if scale == 1 else (F.avg_pool2d(y, 2), F.avg_pool2d(x, 2))
        for fy, fx in zip(feat(ys), feat(xs)):
            loss = loss + F.l1_loss(gram(fy), gram(fx))
    return loss


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--model", required=True, help="exported model folder to start from")
    p.add_argument("--export", required=True)
    p.add_argument("--seconds", type=float, default=2400)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--texture-weight", type=float, default=1.0)
    p.add_argument("--log-every", type=float, default=60)
    p.add_argument("--export-every", type=float, default=600)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: all)")
    a = p.parse_args()
    # Some builds start with one thread whatever the machine has.
    torch.set_num_threads(a.threads or os.cpu_count() or 1)
    torch.manual_seed(3)
    cfg = json.load(open(os.path.join(a.model, "vae", "config.json")))
    vae = models.VAE(cfg)
    sd = safetensors_io.load(os.path.join(a.model, "vae", "diffusion_pytorch_model.safetensors"))
    vae.load_state_dict({k: v.float() for k, v in sd.items()})
    vae.encoder.requires_grad_(False)
    vae.quant_conv.requires_grad_(False)
    params = list(vae.decoder.parameters()) + list(vae.post_quant_conv.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0)
    feat = RandomFeatures()
    world = World(a.data, torch.device("cpu"))
    log("world", world.n, "images; decoder parameters", sum(q.numel() for q in params))

    def export():
        tmp = a.export + ".tmp"
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
        shutil.copytree(a.model, tmp)
        safetensors_io.save({k: v.detach().half() for k, v in vae.state_dict().items()},
                            os.path.join(tmp, "vae", "diffusion_pytorch_model.safetensors"),
                            {"format": "pt", "imggen_training": json.dumps({"decoder_finetune_steps": step})})
        if os.path.exists(a.export):
            shutil.rmtree(a.export)
        os.rename(tmp, a.export)
        log("exported", a.export)

    t0 = last_log = last_export = time.time()
    step = 0
    while time.time() - t0 < a.seconds:
        idx = torch.randint(0, world.n, (a.batch,))
        x = world.pixels(idx)
        with torch.no_grad():
            mean, logvar = vae.encode(x)
            z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        y = vae.decode(z)
        rec = pixel_loss(y, x)
        tex = texture_loss(feat, y, x)
        loss = rec + a.texture_weight * tex
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        now = time.time()
        if now - last_log > a.log_every:
            log(f"step {step} loss {loss.item():.4f} rec {rec.item():.4f} tex {tex.item():.4f} psnr {psnr(y, x):.1f}dB "
                f"{step * a.batch / (now - t0):.1f} img/s")
            last_log = now
        if now - last_export > a.export_every:
            export()
            last_export = now
    export()


if __name__ == "__main__":
    main()
