"""The safety pipeline: plain Python stages, no Django.

1. `prompts`: screening against blocked concepts, before any compute (no torch; web-safe).
2. `presets` (no torch) and `sld` (torch): Safe Latent Diffusion guidance in the denoising loop.
3. `checker` (torch): the operator's image safety checker, whatever the repo ships.
"""
