"""Metrics: equivariance (EQ-T, EQ-T_frac, EQ-R), spectra, texture sticking, resampling (pure functions on tensors)."""
