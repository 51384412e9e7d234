"""A tiny, randomly initialised Stable Diffusion pipeline, built offline.

Same classes and on-disk format as Stable Diffusion v1.5 (UNet2DConditionModel,
AutoencoderKL, CLIPTextModel, CLIPTokenizer, PNDM scheduler), a few hundred
thousand parameters instead of a billion: the tests and the CPU benchmark
drive the real generation code through `from_pretrained` with it. Its images
are coloured noise; only their determinism and bookkeeping matter.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

# Token sequence length: CLIP's is 77 BPE tokens; this tokenizer has one token per
# character, so it needs more to hold the "diverse" prompts without truncation.
MAX_TOKENS = 128


def _byte_alphabet() -> list[str]:
    """The 256 printable stand-ins of byte-level BPE (GPT-2/CLIP's bytes_to_unicode)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for c in chars]


def tiny_tokenizer(folder: str | Path) -> Path:
    """A character-level CLIP tokenizer (no merges): every prompt tokenizes, nothing downloaded."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for ch in _byte_alphabet():
            vocab.setdefault(ch + suffix, len(vocab))
    tok = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=MAX_TOKENS)
    tok.save_pretrained(folder)
    return Path(folder)


def save_tiny_pipeline(folder: str | Path, seed: int = 0) -> Path:
    """Write a tiny Stable Diffusion pipeline with `save_pretrained`; returns the folder.

    The VAE downsamples by 4 (SD's by 8), so a 64 px image is a 16 x 16 latent.
    """
    import torch
    from diffusers import (
        AutoencoderKL,
        PNDMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = Path(folder)
    with tempfile.TemporaryDirectory() as tmp:
        # Through disk, as a real tokenizer (vocab.json + merges.txt) is loaded.
        tokenizer = CLIPTokenizer.from_pretrained(tiny_tokenizer(tmp))
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), norm_num_groups=8, attention_head_dim=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32, 32),
        norm_num_groups=8, sample_size=64,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
    )
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=MAX_TOKENS, bos_token_id=0,
        eos_token_id=1, pad_token_id=1,
    ))
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              skip_prk_steps=True, steps_offset=1)
    pipe = StableDiffusionPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    return folder
