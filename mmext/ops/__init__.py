"""Custom C++/CUDA ops (deformable attention sampling, covariance square roots) live here."""
