"""Training, evaluation, MLflow logging and the champion gate for the complaint classifier."""
