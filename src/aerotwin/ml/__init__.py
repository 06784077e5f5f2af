"""Labels, datasets, training, MLflow registry and promotion, RUL, monitoring."""
