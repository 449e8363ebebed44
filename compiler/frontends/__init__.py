"""Model frontends: a PyTorch module (:mod:`.torch`) or a NIR graph (:mod:`.nir`) to the float IR."""
