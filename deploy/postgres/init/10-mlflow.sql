-- Run once, when the volume is new: the MLflow server's database beside the service's own
-- (POSTGRES_DB), owned by the same user.
CREATE DATABASE mlflow;
