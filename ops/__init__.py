"""Optional compiled kernels of SG3 Explorer.

`ops.cuda` builds the CUDA/C++ kernels on first use and reports why when it cannot; the library's
reference ops (`stylegan3.ops`) are always there, so nothing here is required to run.
"""
