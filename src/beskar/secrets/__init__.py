"""Secrets: what a site needs, generation, the SOPS/age format, and the encrypted file on disk."""
