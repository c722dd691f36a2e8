"""The three networks of the built-in model, written from the Stable Diffusion
papers with diffusers' parameter names, so that the exported state dicts load
through imggen's ordinary diffusers-folder path.

  CLIPText  - CLIP's causal text transformer (Radford et al. 2021), quick-GELU.
  UNet      - the latent U-Net of Rombach et al. 2022 with cross-attention
              (diffusers' UNet2DConditionModel layout).
  VAE       - the KL autoencoder (diffusers' AutoencoderKL layout).

Only what these configurations need is implemented: no dropout, no linear
projections in the transformers, one transformer layer per block.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# The configurations, written verbatim into each component's config.json.
TEXT_CONFIG = {
    "architectures": ["CLIPTextModel"],
    "model_type": "clip_text_model",
    "vocab_size": 49408,
    "hidden_size": 128,
    "intermediate_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "projection_dim": 128,
    "bos_token_id": 49406,
    "eos_token_id": 49407,
    "pad_token_id": 49407,
    "torch_dtype": "float16",
}

UNET_CONFIG = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": 4,  # diffusers' name for the head count
    "block_out_channels": [64, 128, 192],
    "cross_attention_dim": 128,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "mid_block_type": "UNetMidBlock2DCrossAttn",
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 1,
    "norm_eps": 1e-5,
    "norm_num_groups": 32,
    "sample_size": 16,
    "use_linear_projection": False,
    "transformer_layers_per_block": 1,
}

VAE_CONFIG = {
    "_class_name": "AutoencoderKL",
    "act_fn": "silu",
    "block_out_channels": [32, 64, 128, 128],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 1,
    "norm_num_groups": 32,
    "sample_size": 128,
    "scaling_factor": 1.0,  # set from the latents' spread after VAE training
}

SCHEDULER_CONFIG = {
    "_class_name": "PNDMScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
}


USE_SDPA = hasattr(F, "scaled_dot_product_attention")


def attention(q, k, v, heads, causal=False):
    """Multi-head scaled dot-product attention on (B, N, C) tensors."""
    b, n, c = q.shape
    d = c // heads
    q = q.reshape(b, n, heads, d).transpose(1, 2)
    k = k.reshape(b, k.shape[1], heads, d).transpose(1, 2)
    v = v.reshape(b, v.shape[1], heads, d).transpose(1, 2)
    if USE_SDPA:
        o = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    else:
        w = (q @ k.transpose(-1, -2)) * (d ** -0.5)
        if causal:
            w = w + torch.full((n, n), float("-inf"), device=w.device, dtype=w.dtype).triu(1)
        o = w.softmax(-1) @ v
    return o.transpose(1, 2).reshape(b, n, c)


# ---------------------------------------------------------------- text model

class CLIPAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x):
        return self.out_proj(attention(self.q_proj(x), self.k_proj(x), self.v_proj(x), self.heads, causal=True))


class CLIPMLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        h = self.fc1(x)
        return self.fc2(h * torch.sigmoid(1.702 * h))  # quick GELU


class CLIPLayer(nn.Module):
    def __init__(self, dim, heads, hidden, eps):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(dim, eps=eps)
        self.self_attn = CLIPAttention(dim, heads)
        self.layer_norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = CLIPMLP(dim, hidden)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class CLIPEmbeddings(nn.Module):
    def __init__(self, vocab, dim, positions):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, dim)
        self.position_embedding = nn.Embedding(positions, dim)


class CLIPEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList(
            CLIPLayer(cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"], cfg["layer_norm_eps"])
            for _ in range(cfg["num_hidden_layers"]))


class CLIPTextTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        dim = cfg["hidden_size"]
        self.embeddings = CLIPEmbeddings(cfg["vocab_size"], dim, cfg["max_position_embeddings"])
        self.encoder = CLIPEncoder(cfg)
        self.final_layer_norm = nn.LayerNorm(dim, eps=cfg["layer_norm_eps"])


class CLIPText(nn.Module):
    """Token ids (B, 77) -> last hidden state (B, 77, hidden)."""

    def __init__(self, cfg=TEXT_CONFIG):
        super().__init__()
        self.text_model = CLIPTextTransformer(cfg)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
                if isinstance(m, nn.Linear):
                    nn.init.zeros_(m.bias)

    def forward(self, ids):
        tm = self.text_model
        n = ids.shape[1]
        pos = torch.arange(n, device=ids.device)
        x = tm.embeddings.token_embedding(ids) + tm.embeddings.position_embedding(pos)[None]
        for layer in tm.encoder.layers:
            x = layer(x)
        return tm.final_layer_norm(x)


# ---------------------------------------------------------------- shared blocks

class ResnetBlock2D(nn.Module):
    """GroupNorm-SiLU-conv twice, with an optional time embedding added between."""

    def __init__(self, cin, cout, groups, eps, temb_dim=None):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        if temb_dim is not None:
            self.time_emb_proj = nn.Linear(temb_dim, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        if cin != cout:
            self.conv_shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x, temb=None):
        h = self.conv1(F.silu(self.norm1(x)))
        if temb is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        if hasattr(self, "conv_shortcut"):
            x = self.conv_shortcut(x)
        return x + h


class Downsample2D(nn.Module):
    """Stride-2 3x3 conv; the VAE pads only right and bottom (padding 0)."""

    def __init__(self, ch, padding):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)


class Upsample2D(nn.Module):
    """Nearest-neighbour 2x, then a 3x3 conv."""

    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x, size=None):
        if size is None:
            return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


# ---------------------------------------------------------------- U-Net

class Attention(nn.Module):
    def __init__(self, dim, context_dim, heads):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim, dim, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])

    def forward(self, x, context):
        return self.to_out[0](attention(self.to_q(x), self.to_k(context), self.to_v(context), self.heads))


class GEGLU(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * hidden)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, 4 * dim), nn.Identity(), nn.Linear(4 * dim, dim)])

    def forward(self, x):
        return self.net[2](self.net[0](x))


class BasicTransformerBlock(nn.Module):
    """Self-attention, cross-attention on the text, GEGLU feed-forward."""

    def __init__(self, dim, context_dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, context_dim, heads)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x, context):
        h = self.norm1(x)
        x = x + self.attn1(h, h)
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


class Transformer2DModel(nn.Module):
    def __init__(self, ch, context_dim, heads, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, ch, eps=1e-6)
        self.proj_in = nn.Conv2d(ch, ch, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(ch, context_dim, heads)])
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x, context):
        b, c, h, w = x.shape
        y = self.proj_in(self.norm(x)).permute(0, 2, 3, 1).reshape(b, h * w, c)
        for blk in self.transformer_blocks:
            y = blk(y, context)
        y = y.reshape(b, h, w, c).permute(0, 3, 1, 2)
        return x + self.proj_out(y)


class UNetBlock(nn.Module):
    """A down or up block: resnets, optional transformers, optional resampler."""

    def __init__(self, resnets, attentions, sampler_name, sampler):
        super().__init__()
        self.resnets = nn.ModuleList(resnets)
        if attentions:
            self.attentions = nn.ModuleList(attentions)
        if sampler is not None:
            setattr(self, sampler_name, nn.ModuleList([sampler]))


class UNetMid(nn.Module):
    def __init__(self, ch, temb, context_dim, heads, groups, eps):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(ch, ch, groups, eps, temb), ResnetBlock2D(ch, ch, groups, eps, temb)])
        self.attentions = nn.ModuleList([Transformer2DModel(ch, context_dim, heads, groups)])


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = nn.Linear(cin, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


def timestep_features(t, dim):
    """Sinusoidal features of the timesteps, cos first (flip_sin_to_cos)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class UNet(nn.Module):
    """Noisy latents, timesteps and text states -> predicted noise."""

    def __init__(self, cfg=UNET_CONFIG):
        super().__init__()
        self.cfg = cfg
        ch = cfg["block_out_channels"]
        L, g, eps = cfg["layers_per_block"], cfg["norm_num_groups"], cfg["norm_eps"]
        heads, ctx = cfg["attention_head_dim"], cfg["cross_attention_dim"]
        temb = 4 * ch[0]
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(ch[0], temb)

        self.down_blocks = nn.ModuleList()
        cout = ch[0]
        for i, kind in enumerate(cfg["down_block_types"]):
            cin, cout = cout, ch[i]
            last = i == len(ch) - 1
            res = [ResnetBlock2D(cin if j == 0 else cout, cout, g, eps, temb) for j in range(L)]
            att = [Transformer2DModel(cout, ctx, heads, g) for _ in range(L)] if kind.startswith("CrossAttn") else []
            self.down_blocks.append(UNetBlock(res, att, "downsamplers", None if last else Downsample2D(cout, 1)))

        self.mid_block = UNetMid(ch[-1], temb, ctx, heads, g, eps)

        self.up_blocks = nn.ModuleList()
        rev = list(reversed(ch))
        cout = rev[0]
        for i, kind in enumerate(cfg["up_block_types"]):
            prev, cout = cout, rev[i]
            cin = rev[min(i + 1, len(ch) - 1)]
            last = i == len(ch) - 1
            res = []
            for j in range(L + 1):
                skip = cin if j == L else cout
                res.append(ResnetBlock2D((prev if j == 0 else cout) + skip, cout, g, eps, temb))
            att = [Transformer2DModel(cout, ctx, heads, g) for _ in range(L + 1)] if kind.startswith("CrossAttn") else []
            self.up_blocks.append(UNetBlock(res, att, "upsamplers", None if last else Upsample2D(cout)))

        self.conv_norm_out = nn.GroupNorm(g, ch[0], eps=eps)
        self.conv_out = nn.Conv2d(ch[0], cfg["out_channels"], 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x, t, context):
        temb = self.time_embedding(timestep_features(t, self.cfg["block_out_channels"][0]))
        x = self.conv_in(x)
        skips = [x]
        for blk in self.down_blocks:
            for j, r in enumerate(blk.resnets):
                x = r(x, temb)
                if hasattr(blk, "attentions"):
                    x = blk.attentions[j](x, context)
                skips.append(x)
            if hasattr(blk, "downsamplers"):
                x = blk.downsamplers[0](x)
                skips.append(x)
        m = self.mid_block
        x = m.resnets[0](x, temb)
        x = m.attentions[0](x, context)
        x = m.resnets[1](x, temb)
        for blk in self.up_blocks:
            for j, r in enumerate(blk.resnets):
                x = r(torch.cat([x, skips.pop()], dim=1), temb)
                if hasattr(blk, "attentions"):
                    x = blk.attentions[j](x, context)
            if hasattr(blk, "upsamplers"):
                # odd sizes: upsample to the size of the skip that comes next
                x = blk.upsamplers[0](x, skips[-1].shape[-2:])
        return self.conv_out(F.silu(self.conv_norm_out(x)))


# ---------------------------------------------------------------- VAE

class VAEAttention(nn.Module):
    """Single-head self-attention over all pixels (the VAE's mid block)."""

    def __init__(self, ch, groups):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, ch, eps=1e-6)
        self.to_q = nn.Linear(ch, ch)
        self.to_k = nn.Linear(ch, ch)
        self.to_v = nn.Linear(ch, ch)
        self.to_out = nn.ModuleList([nn.Linear(ch, ch)])

    def forward(self, x):
        b, c, h, w = x.shape
        y = self.group_norm(x).reshape(b, c, h * w).transpose(1, 2)
        y = self.to_out[0](attention(self.to_q(y), self.to_k(y), self.to_v(y), 1))
        return x + y.transpose(1, 2).reshape(b, c, h, w)


class VAEMid(nn.Module):
    def __init__(self, ch, groups):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(ch, ch, groups, 1e-6), ResnetBlock2D(ch, ch, groups, 1e-6)])
        self.attentions = nn.ModuleList([VAEAttention(ch, groups)])

    def forward(self, x):
        return self.resnets[1](self.attentions[0](self.resnets[0](x)))


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, L, g = cfg["block_out_channels"], cfg["layers_per_block"], cfg["norm_num_groups"]
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        cout = ch[0]
        for i in range(len(ch)):
            cin, cout = cout, ch[i]
            res = [ResnetBlock2D(cin if j == 0 else cout, cout, g, 1e-6) for j in range(L)]
            last = i == len(ch) - 1
            self.down_blocks.append(UNetBlock(res, [], "downsamplers", None if last else Downsample2D(cout, 0)))
        self.mid_block = VAEMid(ch[-1], g)
        self.conv_norm_out = nn.GroupNorm(g, ch[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[-1], 2 * cfg["latent_channels"], 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for blk in self.down_blocks:
            for r in blk.resnets:
                x = r(x)
            if hasattr(blk, "downsamplers"):
                x = blk.downsamplers[0](x)
        x = self.mid_block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, L, g = cfg["block_out_channels"], cfg["layers_per_block"], cfg["norm_num_groups"]
        rev = list(reversed(ch))
        self.conv_in = nn.Conv2d(cfg["latent_channels"], rev[0], 3, padding=1)
        self.mid_block = VAEMid(rev[0], g)
        self.up_blocks = nn.ModuleList()
        cout = rev[0]
        for i in range(len(ch)):
            prev, cout = cout, rev[i]
            res = [ResnetBlock2D(prev if j == 0 else cout, cout, g, 1e-6) for j in range(L + 1)]
            last = i == len(ch) - 1
            self.up_blocks.append(UNetBlock(res, [], "upsamplers", None if last else Upsample2D(cout)))
        self.conv_norm_out = nn.GroupNorm(g, ch[0], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[0], cfg["out_channels"], 3, padding=1)

    def forward(self, z):
        x = self.mid_block(self.conv_in(z))
        for blk in self.up_blocks:
            for r in blk.resnets:
                x = r(x)
            if hasattr(blk, "upsamplers"):
                x = blk.upsamplers[0](x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class VAE(nn.Module):
    def __init__(self, cfg=VAE_CONFIG):
        super().__init__()
        lat = cfg["latent_channels"]
        self.encoder = Encoder(cfg)
        self.quant_conv = nn.Conv2d(2 * lat, 2 * lat, 1)
        self.post_quant_conv = nn.Conv2d(lat, lat, 1)
        self.decoder = Decoder(cfg)

    def encode(self, x):
        """Pixels in [-1, 1] -> (mean, logvar) of the latent distribution."""
        mean, logvar = self.quant_conv(self.encoder(x)).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))


def count(m):
    return sum(p.numel() for p in m.parameters())


if __name__ == "__main__":
    for name, m in [("text", CLIPText()), ("unet", UNet()), ("vae", VAE())]:
        print(name, count(m), "parameters", f"{2 * count(m) / 1e6:.1f} MB f16")
