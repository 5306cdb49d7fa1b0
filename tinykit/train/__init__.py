"""Training: the model zoo, seeded input pipelines with augmentation, distillation."""
