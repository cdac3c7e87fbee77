"""The generated image as an OpenGL texture (PyOpenGL), updated in place.

The renderer hands over contiguous HxWx3 uint8 host memory; it goes to the GPU with one `glTexSubImage2D`
straight from that buffer (no intermediate copies). The texture is reallocated only when the size changes.
Must be used on the GUI thread (the one owning the GL context). Sampling is bilinear: imgui's OpenGL3 backend
applies its own (linear) sampler when drawing, so exact pixel values are read from the hover readout instead.
"""

from __future__ import annotations

import numpy as np
from OpenGL import GL


class Texture:
    def __init__(self) -> None:
        self.tex_id: int | None = None
        self.width = 0
        self.height = 0

    def upload(self, pixels: np.ndarray) -> None:
        if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError(f"expected HxWx3 uint8, got {pixels.dtype} {pixels.shape}")
        pixels = np.ascontiguousarray(pixels)
        h, w = pixels.shape[:2]
        if self.tex_id is None:
            self.tex_id = int(GL.glGenTextures(1))
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.tex_id)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        if (w, h) != (self.width, self.height):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGB8, w, h, 0, GL.GL_RGB, GL.GL_UNSIGNED_BYTE, pixels)
            self.width, self.height = w, h
        else:
            GL.glTexSubImage2D(GL.GL_TEXTURE_2D, 0, 0, 0, w, h, GL.GL_RGB, GL.GL_UNSIGNED_BYTE, pixels)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)

    def delete(self) -> None:
        if self.tex_id is not None:
            GL.glDeleteTextures([self.tex_id])
            self.tex_id = None
            self.width = self.height = 0


def read_framebuffer(width: int, height: int) -> np.ndarray:
    """The current back buffer as HxWx3 uint8, top row first (call after the GUI is drawn, before swap)."""
    GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
    GL.glReadBuffer(GL.GL_BACK)
    data = GL.glReadPixels(0, 0, width, height, GL.GL_RGB, GL.GL_UNSIGNED_BYTE)
    arr = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
    return np.ascontiguousarray(arr[::-1])
