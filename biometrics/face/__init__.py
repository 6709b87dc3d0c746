"""Face biometrics: pipeline (detect, quality gate, encode), protection, evaluation."""
