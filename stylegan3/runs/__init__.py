"""Long runs: torchrun distribution of the long commands and their resumable result logs."""
