"""Pixel-level adaptation: refiners of the synthetic images (FDA, SimGAN, CycleGAN, MrGAN)."""
