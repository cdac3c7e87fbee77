"""Exploration tools on top of rendering: latent directions, projection of images, latent paths and videos."""
