"""The three ops of StyleGAN2/3: reference PyTorch path everywhere, CUDA kernels through `backend`."""

from stylegan3.ops.bias_act import bias_act, bias_act_ref
from stylegan3.ops.filtered_lrelu import filtered_lrelu, filtered_lrelu_ref
from stylegan3.ops.upfirdn2d import downsample2d, setup_filter, upfirdn2d, upfirdn2d_ref, upsample2d

__all__ = [
    "bias_act",
    "bias_act_ref",
    "downsample2d",
    "filtered_lrelu",
    "filtered_lrelu_ref",
    "setup_filter",
    "upfirdn2d",
    "upfirdn2d_ref",
    "upsample2d",
]
