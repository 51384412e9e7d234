"""Fourier Domain Adaptation (Yang & Soatto, CVPR 2020): the training-free pixel-level part.

Each source image keeps its phase (where its edges and shapes are) and takes a target
image's amplitude at the lowest spatial frequencies (its overall colour and coarse
shading). The swapped window is symmetric about the zero frequency, |k_y|, |k_x| < b with
b = floor(beta * side), so the amplitude stays Hermitian-symmetric and the result is a real
image up to rounding (FDA's code swaps the corner blocks k in [0, b) and [-b, 0), one
frequency more on the negative side).
"""

from __future__ import annotations

import math

import numpy as np


def window(side: int, beta: float) -> int:
    """b: frequencies |k| < b swap; 0 when beta * side < 1 (then FDA is the identity)."""
    return math.floor(beta * side)


def low_frequencies(h: int, w: int, b: int) -> np.ndarray:
    """Mask [h, w] of the unshifted 2-D spectrum: True where |k_y| < b and |k_x| < b."""
    ky = np.abs(np.fft.fftfreq(h) * h)
    kx = np.abs(np.fft.fftfreq(w) * w)
    return (ky[:, None] < b) & (kx[None, :] < b)


def fda(source: np.ndarray, target: np.ndarray, beta: float) -> np.ndarray:
    """Float images [N, H, W, C] (or [H, W, C]): `source` with the amplitude of `target`
    inside the low-frequency window, per channel; same shape, float64, unclipped."""
    if source.shape != target.shape:
        raise ValueError(f"FDA swaps spectra of images of one shape: source {source.shape}, "
                         f"target {target.shape}")
    h, w = source.shape[-3:-1]
    b = window(min(h, w), beta)
    fs = np.fft.fft2(np.asarray(source, np.float64), axes=(-3, -2))
    if b == 0:
        return np.real(np.fft.ifft2(fs, axes=(-3, -2)))
    ft = np.fft.fft2(np.asarray(target, np.float64), axes=(-3, -2))
    mask = low_frequencies(h, w, b)[..., None]
    amplitude = np.where(mask, np.abs(ft), np.abs(fs))
    out = np.fft.ifft2(amplitude * np.exp(1j * np.angle(fs)), axes=(-3, -2))
    return np.real(out)


def fda_uint8(source: np.ndarray, target: np.ndarray, beta: float) -> np.ndarray:
    """`fda` on 8-bit images, rounded and clipped back to 8 bits."""
    return np.clip(np.rint(fda(source, target, beta)), 0, 255).astype(np.uint8)
