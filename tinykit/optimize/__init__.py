"""Compression with TFMOT: pruning, clustering, quantization-aware training (PCQAT)."""
