"""Fingerprint library: templates, extraction, quality, matching, 1:N index."""
