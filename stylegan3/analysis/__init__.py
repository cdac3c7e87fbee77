"""Analysis tools: equivariance metrics, spectra and texture sticking (pure functions on tensors)."""
