"""Trains imggen's built-in model on the procedural world that `mkworld`
renders, and exports it as a diffusers model folder in float16.

Two phases, each with a budget of training seconds that accumulates across
runs (the checkpoint records what was spent), so `make train` can be stopped
and resumed at will:

  vae   the KL autoencoder on the images (L1 + L2 + edge loss, a small KL,
        and a texture-statistics loss so that the style filters survive);
  unet  the U-Net and the text transformer jointly, noise-prediction loss on
        the VAE's latents, the caption dropped 10% of the time so that
        classifier-free guidance works.

Runs on a CPU (slowly) or a CUDA GPU (bf16 autocast) when one is at hand.
"""

import argparse
import copy
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import models
import safetensors_io

BOS, EOT, CONTEXT = 49406, 49407, 77
EMPTY_IDS = [BOS, EOT] + [EOT] * (CONTEXT - 2)


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


class World:
    """The dataset that mkworld writes: images.u8, tokens.i32, info.json."""

    def __init__(self, folder, device):
        info = json.load(open(os.path.join(folder, "info.json")))
        self.n, self.k, size = info["n"], info["k"], info["size"]
        img = np.fromfile(os.path.join(folder, "images.u8"), dtype=np.uint8).reshape(self.n, size, size, 3)
        tok = np.fromfile(os.path.join(folder, "tokens.i32"), dtype=np.int32).reshape(self.n, self.k, CONTEXT)
        self.images = torch.from_numpy(img).to(device)  # uint8 NHWC
        self.tokens = torch.from_numpy(tok.astype(np.int64)).to(device)
        self.device = device
        # Style of each image (meta.jsonl), only to log how well each survives.
        self.styles = None
        meta = os.path.join(folder, "meta.jsonl")
        if os.path.exists(meta):
            names = [json.loads(line)["style"] for line in open(meta)]
            self.style_names = sorted(set(names))
            self.styles = torch.tensor([self.style_names.index(v) for v in names], device=device)

    def pixels(self, idx):
        """Images idx as float NCHW in [-1, 1]."""
        return self.images[idx].permute(0, 3, 1, 2).float() / 127.5 - 1.0

    def captions(self, idx, drop):
        """One random caption per image; the empty prompt with probability drop."""
        j = torch.randint(0, self.k, (len(idx),), device=self.device)
        ids = self.tokens[idx, j]
        empty = torch.tensor(EMPTY_IDS, device=self.device)
        mask = torch.rand(len(idx), device=self.device) < drop
        return torch.where(mask[:, None], empty[None], ids)


def schedule_lr(base, step, frac, warmup=300):
    """Linear warm-up, then cosine decay to 10% over the phase's time budget."""
    w = min(1.0, (step + 1) / warmup)
    return base * w * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def ema_update(ema, model, decay):
    with torch.no_grad():
        e, p = list(ema.parameters()), list(model.parameters())
        if hasattr(torch, "_foreach_lerp_"):
            torch._foreach_lerp_(e, p, 1 - decay)  # one kernel launch, not hundreds
        else:
            for a, b in zip(e, p):
                a.lerp_(b, 1 - decay)


def adamw(params, lr, weight_decay, cuda):
    if cuda:
        try:
            return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
        except (TypeError, RuntimeError):
            pass
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


class Trainer:
    def __init__(self, args):
        self.args = args
        self.dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.cuda = self.dev.type == "cuda"
        self.use_bf16 = self.cuda
        if self.cuda:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
            torch.backends.cudnn.benchmark = True
        torch.manual_seed(args.seed)
        self.vae = models.VAE().to(self.dev)
        self.unet = models.UNet().to(self.dev)
        self.text = models.CLIPText().to(self.dev)
        self.vae_opt = adamw(list(self.vae.parameters()), args.vae_lr, 0.0, self.cuda)
        self.opt = adamw(list(self.unet.parameters()) + list(self.text.parameters()), args.unet_lr, 0.01, self.cuda)
        self.ema_unet = copy.deepcopy(self.unet).requires_grad_(False)
        self.ema_text = copy.deepcopy(self.text).requires_grad_(False)
        self.state = {"vae_step": 0, "vae_seconds": 0.0, "unet_step": 0, "unet_seconds": 0.0, "scaling_factor": None}
        betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
        self.alphas_cumprod = torch.cumprod(1 - betas, 0).float().to(self.dev)

    # ------------------------------------------------------------ checkpoints

    def save(self):
        if not self.args.ckpt:
            return
        tmp = self.args.ckpt + ".tmp"
        torch.save({"vae": self.vae.state_dict(), "vae_opt": self.vae_opt.state_dict(),
                    "unet": self.unet.state_dict(), "text": self.text.state_dict(),
                    "ema_unet": self.ema_unet.state_dict(), "ema_text": self.ema_text.state_dict(),
                    "opt": self.opt.state_dict(), "state": self.state}, tmp)
        os.replace(tmp, self.args.ckpt)
        log("checkpoint", self.args.ckpt, self.state)

    def load(self):
        if self.args.ckpt and os.path.exists(self.args.ckpt):
            ck = torch.load(self.args.ckpt, map_location=self.dev)
            self.vae.load_state_dict(ck["vae"])
            self.vae_opt.load_state_dict(ck["vae_opt"])
            self.unet.load_state_dict(ck["unet"])
            self.text.load_state_dict(ck["text"])
            self.ema_unet.load_state_dict(ck["ema_unet"])
            self.ema_text.load_state_dict(ck["ema_text"])
            self.opt.load_state_dict(ck["opt"])
            self.state.update(ck["state"])
            log("resumed", self.args.ckpt, self.state)
        elif self.args.init_from:
            self.load_export(self.args.init_from)

    def load_export(self, folder):
        """Starts from an exported model folder (weights only, fresh optimizer)."""
        def get(sub, name):
            return {k: v.float() for k, v in safetensors_io.load(os.path.join(folder, sub, name)).items()}
        self.vae.load_state_dict(get("vae", "diffusion_pytorch_model.safetensors"))
        self.unet.load_state_dict(get("unet", "diffusion_pytorch_model.safetensors"))
        self.text.load_state_dict(get("text_encoder", "model.safetensors"))
        self.ema_unet.load_state_dict(self.unet.state_dict())
        self.ema_text.load_state_dict(self.text.state_dict())
        if self.args.retrain_vae:
            # The VAE trains on (--vae-seconds); its latents change, so the
            # scaling factor is measured again and the U-Net adapts to them.
            log("initialised from", folder, "(the VAE trains on)")
            return
        cfg = json.load(open(os.path.join(folder, "vae", "config.json")))
        self.state["scaling_factor"] = cfg["scaling_factor"]
        self.state["vae_seconds"] = self.args.vae_seconds  # the VAE is done
        log("initialised from", folder)

    def preflight(self, world):
        """One tiny training step of each network before the real work, so an
        unsupported kernel on this machine costs a fallback, not the run:
        first without fused attention, then without bf16 autocast."""
        for attempt in range(3):
            try:
                idx = torch.arange(2, device=self.dev) % world.n
                with self.autocast():
                    mean, _ = self.vae.encode(world.pixels(idx))
                    y = self.vae.decode(mean)
                    ctx = self.text(world.captions(idx, 0.5))
                    pred = self.unet(mean.float(), torch.tensor([10, 900], device=self.dev), ctx)
                (y.float().mean() + pred.float().mean()).backward()
                for m in (self.vae, self.unet, self.text):
                    m.zero_grad(set_to_none=True)
                log("preflight ok: sdpa", models.USE_SDPA, "bf16", self.use_bf16)
                return
            except Exception as e:  # noqa: BLE001 - any failure picks the next fallback
                log("preflight failed:", repr(e))
                if attempt == 0 and models.USE_SDPA:
                    models.USE_SDPA = False
                else:
                    self.use_bf16 = False
        raise SystemExit("preflight failed without fused attention and bf16")

    def autocast(self):
        if self.cuda and self.use_bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    # ------------------------------------------------------------ VAE phase

    def train_vae(self, world):
        a, st = self.args, self.state
        if st["vae_seconds"] >= a.vae_seconds:
            return
        self.vae.train()
        t0, last_save, last_log = time.time(), time.time(), time.time()
        spent0 = st["vae_seconds"]
        last_step = st["vae_step"]
        while True:
            spent = spent0 + time.time() - t0
            if spent >= a.vae_seconds:
                break
            for g in self.vae_opt.param_groups:
                g["lr"] = schedule_lr(a.vae_lr, st["vae_step"], spent / a.vae_seconds)
            idx = torch.randint(0, world.n, (a.batch_vae,), device=self.dev)
            x = world.pixels(idx)
            if torch.rand(()) < 0.5:
                x = x.flip(3)  # the autoencoder does not care about left and right
            with self.autocast():
                mean, logvar = self.vae.encode(x)
                z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
                y = self.vae.decode(z).float()
            kl = 0.5 * (mean.float() ** 2 + logvar.float().exp() - 1 - logvar.float()).mean()
            rec = pixel_loss(y, x)
            tex = texture_loss(y, x)
            loss = rec + a.texture_weight * tex + a.kl_weight * kl
            self.vae_opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.vae.parameters(), 1.0)
            self.vae_opt.step()
            st["vae_step"] += 1
            now = time.time()
            if now - last_log > a.log_every:
                rate = (st["vae_step"] - last_step) * a.batch_vae / (now - last_log)
                log(f"vae step {st['vae_step']} spent {spent:.0f}s loss {loss.item():.4f} rec {rec.item():.4f} "
                    f"tex {tex.item():.4f} kl {kl.item():.2f} psnr {psnr(y, x):.1f}dB {rate:.0f} img/s")
                if world.styles is not None:
                    log("  high-pass energy kept (decoded / original):", style_report(y.detach(), x, world.styles[idx], world.style_names))
                last_log, last_step = now, st["vae_step"]
            if now - last_save > a.save_every:
                st["vae_seconds"] = spent0 + now - t0
                self.save()
                last_save = now
        st["vae_seconds"] = spent0 + time.time() - t0
        self.save()

    @torch.no_grad()
    def encode_world(self, world):
        """Latent means and log-variances of every image, cached in fp16."""
        self.vae.eval()
        means, logvars = [], []
        for i in range(0, world.n, self.args.batch_encode):
            idx = torch.arange(i, min(i + self.args.batch_encode, world.n), device=self.dev)
            with self.autocast():
                m, lv = self.vae.encode(world.pixels(idx))
            means.append(m.half())
            logvars.append(lv.half())
        mean, logvar = torch.cat(means), torch.cat(logvars)
        if self.state["scaling_factor"] is None:
            sample = mean[:4096].float() + torch.exp(0.5 * logvar[:4096].float()) * torch.randn_like(mean[:4096].float())
            self.state["scaling_factor"] = float(1.0 / sample.std())
            log("latent std", float(sample.std()), "scaling_factor", self.state["scaling_factor"])
        return mean, logvar

    # ------------------------------------------------------------ U-Net phase

    def train_unet(self, world, mean, logvar):
        a, st = self.args, self.state
        if st["unet_seconds"] >= a.unet_seconds:
            return
        sf = st["scaling_factor"]
        self.unet.train()
        self.text.train()
        params = list(self.unet.parameters()) + list(self.text.parameters())
        t0, last_save, last_log, last_export = time.time(), time.time(), time.time(), time.time()
        spent0 = st["unet_seconds"]
        last_step = st["unet_step"]
        losses = []
        while True:
            spent = spent0 + time.time() - t0
            if spent >= a.unet_seconds:
                break
            for g in self.opt.param_groups:
                g["lr"] = schedule_lr(a.unet_lr, st["unet_step"], spent / a.unet_seconds)
            idx = torch.randint(0, world.n, (a.batch_unet,), device=self.dev)
            m, lv = mean[idx].float(), logvar[idx].float()
            z = (m + torch.exp(0.5 * lv) * torch.randn_like(m)) * sf
            t = torch.randint(0, 1000, (len(idx),), device=self.dev)
            noise = torch.randn_like(z)
            ab = self.alphas_cumprod[t][:, None, None, None]
            xt = ab.sqrt() * z + (1 - ab).sqrt() * noise
            ids = world.captions(idx, a.drop)
            with self.autocast():
                ctx = self.text(ids)
                pred = self.unet(xt, t, ctx).float()
            # min-SNR-5 weighting (Hang et al. 2023) for noise prediction
            snr = ab / (1 - ab)
            w = torch.clamp(snr, max=5.0) / snr
            loss = (w * (pred - noise) ** 2).mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            self.opt.step()
            st["unet_step"] += 1
            decay = min(a.ema, (1 + st["unet_step"]) / (10 + st["unet_step"]))
            ema_update(self.ema_unet, self.unet, decay)
            ema_update(self.ema_text, self.text, decay)
            losses.append(loss.detach())
            now = time.time()
            if now - last_log > a.log_every:
                rate = (st["unet_step"] - last_step) * a.batch_unet / (now - last_log)
                log(f"unet step {st['unet_step']} spent {spent:.0f}s loss {torch.stack(losses).mean().item():.4f} "
                    f"{rate:.0f} samples/s")
                losses, last_log, last_step = [], now, st["unet_step"]
            if now - last_save > a.save_every:
                st["unet_seconds"] = spent0 + now - t0
                self.save()
                last_save = now
            if a.export and now - last_export > a.export_every:
                self.export(a.export)
                last_export = now
        st["unet_seconds"] = spent0 + time.time() - t0
        self.save()

    # ------------------------------------------------------------ export

    def export(self, folder):
        """Writes the EMA weights as a diffusers folder in float16."""
        tmp = folder + ".tmp"
        for sub in ["unet", "vae", "text_encoder", "scheduler", "tokenizer"]:
            os.makedirs(os.path.join(tmp, sub), exist_ok=True)

        def half(sd):
            return {k: v.detach().half() for k, v in sd.items()}

        vae_cfg = dict(models.VAE_CONFIG, scaling_factor=self.state["scaling_factor"] or 1.0)
        meta = {"format": "pt", "imggen_training": json.dumps(self.state)}
        safetensors_io.save(half(self.ema_unet.state_dict()), os.path.join(tmp, "unet", "diffusion_pytorch_model.safetensors"), meta)
        safetensors_io.save(half(self.vae.state_dict()), os.path.join(tmp, "vae", "diffusion_pytorch_model.safetensors"), meta)
        safetensors_io.save(half(self.ema_text.state_dict()), os.path.join(tmp, "text_encoder", "model.safetensors"), meta)
        files = {"unet/config.json": models.UNET_CONFIG, "vae/config.json": vae_cfg,
                 "text_encoder/config.json": models.TEXT_CONFIG, "scheduler/scheduler_config.json": models.SCHEDULER_CONFIG,
                 "tokenizer/special_tokens_map.json": {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
                                                       "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"},
                 "model_index.json": {"_class_name": "StableDiffusionPipeline", "scheduler": ["diffusers", "PNDMScheduler"],
                                      "text_encoder": ["transformers", "CLIPTextModel"],
                                      "tokenizer": ["transformers", "CLIPTokenizer"],
                                      "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}}
        for name, obj in files.items():
            with open(os.path.join(tmp, name), "w") as f:
                json.dump(obj, f, indent=2)
                f.write("\n")
        if os.path.exists(folder):
            old = folder + ".old"
            os.rename(folder, old)
            os.rename(tmp, folder)
            import shutil
            shutil.rmtree(old)
        else:
            os.rename(tmp, folder)
        log("exported", folder)


def pixel_loss(y, x):
    """The autoencoder's reconstruction loss: L1 + L2, and L1 on the image
    gradients (half weight) to keep edges sharp."""
    edge = F.l1_loss(y[..., 1:] - y[..., :-1], x[..., 1:] - x[..., :-1]) + \
        F.l1_loss(y[..., 1:, :] - y[..., :-1, :], x[..., 1:, :] - x[..., :-1, :])
    return F.l1_loss(y, x) + F.mse_loss(y, x) + 0.5 * edge


def texture_stats(v):
    """Texture statistics of images v ([n, 3, H, W] in [-1, 1]) per 16x16
    patch: the mean high-pass magnitude per channel (grain, brush noise), its
    colour part (noise that differs per channel), the mean neighbour
    difference at each of the 4 column and row phases (block structure) and
    the share of almost equal neighbours (flat fills). Pixel losses are
    minimised by the conditional mean, which has none of these textures;
    matching the statistics instead of the pixels rewards drawing them
    wherever each stroke or grain falls."""
    n, _, h, w = v.shape
    hp = v - F.avg_pool2d(F.pad(v, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    grain = F.avg_pool2d(hp.abs(), 16)
    chroma = F.avg_pool2d((hp - hp.mean(1, keepdim=True)).abs(), 16)
    dx = F.pad((v[..., 1:] - v[..., :-1]).abs().sum(1), (0, 1))  # [n, h, w]
    dy = F.pad((v[..., 1:, :] - v[..., :-1, :]).abs().sum(1), (0, 0, 0, 1))
    px = F.avg_pool2d(dx.view(n, h, w // 4, 4).permute(0, 3, 1, 2), (16, 4))
    py = F.avg_pool2d(dy.view(n, h // 4, 4, w).permute(0, 2, 1, 3), (4, 16))
    level = 2 / 255  # one 8-bit level in [-1, 1] units
    flat = F.avg_pool2d(torch.sigmoid((3 * level - dx) / level)[:, None], 16)
    return grain, chroma, px / 3, py / 3, flat / 10


def texture_loss(y, x):
    return sum(F.l1_loss(a, b) for a, b in zip(texture_stats(y), texture_stats(x)))


@torch.no_grad()
def style_report(y, x, styles, names):
    """Per style: decoded over original mean high-pass magnitude (1 = kept)."""
    gy, gx = texture_stats(y.float())[0].mean((1, 2, 3)), texture_stats(x.float())[0].mean((1, 2, 3))
    parts = []
    for k, name in enumerate(names):
        m = styles == k
        if m.any():
            parts.append(f"{name} {(gy[m].sum() / gx[m].sum()).item():.2f}")
    return ", ".join(parts)


def psnr(y, x):
    mse = F.mse_loss(y.clamp(-1, 1), x).item() / 4.0  # on [0, 1]
    return 10 * math.log10(1.0 / max(mse, 1e-10))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder written by mkworld -split train")
    p.add_argument("--ckpt", default="", help="checkpoint file to resume from and save to")
    p.add_argument("--init-from", default="", help="start from an exported model folder (when no checkpoint)")
    p.add_argument("--export", default="", help="model folder to write (diffusers layout, float16)")
    p.add_argument("--vae-seconds", type=float, default=3600)
    p.add_argument("--unet-seconds", type=float, default=6 * 3600)
    p.add_argument("--batch-vae", type=int, default=16)
    p.add_argument("--batch-unet", type=int, default=64)
    p.add_argument("--batch-encode", type=int, default=256)
    p.add_argument("--vae-lr", type=float, default=4e-4)
    p.add_argument("--unet-lr", type=float, default=4e-4)
    p.add_argument("--kl-weight", type=float, default=1e-6)
    p.add_argument("--texture-weight", type=float, default=4.0, help="weight of the VAE's texture-statistics loss")
    p.add_argument("--retrain-vae", action="store_true",
                   help="with --init-from: train the VAE for --vae-seconds too (then the U-Net on its new latents)")
    p.add_argument("--drop", type=float, default=0.1, help="probability of training on the empty prompt")
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log-every", type=float, default=30)
    p.add_argument("--save-every", type=float, default=600)
    p.add_argument("--export-every", type=float, default=1e9)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: all)")
    a = p.parse_args()
    # Some builds start with one thread whatever the machine has.
    torch.set_num_threads(a.threads or os.cpu_count() or 1)

    tr = Trainer(a)
    log("device", tr.dev, "parameters: text", models.count(tr.text), "unet", models.count(tr.unet), "vae", models.count(tr.vae))
    tr.load()
    world = World(a.data, tr.dev)
    log("world", world.n, "images,", world.k, "captions each")
    tr.preflight(world)
    tr.train_vae(world)
    if a.export:
        tr.export(a.export)
    mean, logvar = tr.encode_world(world)
    tr.train_unet(world, mean, logvar)
    if a.export:
        tr.export(a.export)


if __name__ == "__main__":
    main()
