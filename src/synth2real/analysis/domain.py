"""How far apart the two domains are in a representation: proxy A-distance and a 2-D map.

Proxy A-distance (Ben-David et al., 2007; as used by Ganin et al.): train a
linear classifier to tell source features from target features; with its
held-out error e, PAD = 2 (1 - 2 e). 0 = indistinguishable domains, 2 =
perfectly separable. Target = the unlabeled real pool, so no test label is
ever read.

Fréchet distance: the distance between Gaussians fitted to the two feature sets -- the FID
formula, here on this study's backbone features rather than Inception's (so not an FID).
"""

from __future__ import annotations

import numpy as np


def _sample(X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return X[rng.choice(len(X), size=min(n, len(X)), replace=False)]


def logistic_fit(X: np.ndarray, y: np.ndarray, C: float = 1.0, tol: float = 1e-8,
                 max_iter: int = 50) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression: (weights [D], intercept).

    Minimises C * sum_i log(1 + exp(-s_i (x_i . w + b))) + ||w||^2 / 2 over labels y in
    {0, 1} (s = 2y - 1), the intercept unpenalised: scikit-learn's `LogisticRegression(C=C)`
    objective, solved by Newton's method to its optimum (strictly convex: there is one)
    without importing scikit-learn, which costs ~2 s in every training job that measures a
    PAD. One (D+1)-square Cholesky solve per step.
    """
    from scipy.linalg import cho_factor, cho_solve

    n, d = X.shape
    A = np.hstack([X, np.ones((n, 1))])
    ridge = np.r_[np.ones(d), 1e-12]  # the intercept's: only enough to keep the Hessian definite
    theta = np.zeros(d + 1)
    for _ in range(max_iter):
        p = 0.5 * (1 + np.tanh(0.5 * (A @ theta)))  # sigmoid, without overflow
        grad = C * (A.T @ (p - y)) + ridge * theta
        if np.abs(grad).max() < tol * max(1.0, C * n):
            break
        root = A * np.sqrt(C * p * (1 - p))[:, None]
        hess = root.T @ root
        hess[np.diag_indices_from(hess)] += ridge
        theta -= cho_solve(cho_factor(hess), grad)
    return theta[:d], float(theta[d])


def proxy_a_distance(source: np.ndarray, target: np.ndarray, n: int = 1000, seed: int = 0) -> float:
    """PAD from a logistic-regression domain classifier (C = 1, standardised features), half of
    each domain held out."""
    rng = np.random.default_rng(seed)
    S, T = _sample(source, n, rng), _sample(target, n, rng)
    m = min(len(S), len(T))
    if m < 4:
        raise ValueError("proxy A-distance needs at least 4 images per domain")
    S, T = S[:m], T[:m]
    X = np.concatenate([S, T]).astype(np.float64)
    y = np.r_[np.zeros(m), np.ones(m)]
    fit = np.r_[np.arange(m // 2), m + np.arange(m // 2)]
    held = np.setdiff1d(np.arange(2 * m), fit)
    mean, std = X[fit].mean(0), X[fit].std(0)
    std[std == 0] = 1.0  # a constant feature stays 0, as StandardScaler leaves it
    Z = (X - mean) / std
    w, b = logistic_fit(Z[fit], y[fit])
    err = float(np.mean(((Z[held] @ w + b) > 0) != y[held]))
    return 2.0 * (1.0 - 2.0 * min(err, 0.5))


def _factor(x: np.ndarray) -> np.ndarray:
    """A [K, D] with A^T A = the sample covariance of the rows of `x` [N, D] (ddof 1), K =
    min(N, D): the centred rows themselves, or their QR R factor when there are more rows
    than dimensions."""
    a = (x - x.mean(0)) / np.sqrt(len(x) - 1)
    return np.linalg.qr(a, mode="r") if len(a) > a.shape[1] else a


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the feature sets `a` [N, D] and `b` [M, D]:
    ||mu_a - mu_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2)), sample covariances (ddof 1).

    The FID formula (Heusel et al., 2017), applied here to MobileNetV2's penultimate features
    (1280-D, the study's frozen backbone) -- NOT an FID, which needs Inception-v3's pool
    features (weights this study does not fetch); its values compare only with each other.

    Computed in float64 without a matrix square root: with C_a = A^T A and C_b = B^T B,
    the eigenvalues of C_a C_b are the squared singular values of A B^T, so
    Tr (C_a C_b)^(1/2) is the sum of the singular values of A B^T, and Tr C_a = ||A||_F^2.
    Exact for rank-deficient covariances (fewer images than dimensions), where a general
    matrix square root is ill-conditioned; A and B have min(N, D) rows, so the SVD is at most
    D x D.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"frechet_distance needs two [N, D] feature sets of one D, got "
                         f"{a.shape} and {b.shape}")
    if min(len(a), len(b)) < 2:
        raise ValueError("frechet_distance needs at least 2 rows per set (a covariance)")
    fa, fb = _factor(a), _factor(b)
    cross = np.linalg.svd(fa @ fb.T, compute_uv=False).sum()
    d = float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.sum(fa * fa) + np.sum(fb * fb)
              - 2 * cross)
    return max(d, 0.0)  # a squared distance; rounding can leave -1e-12 for one set


def density_ratio(val_features: np.ndarray, source_features: np.ndarray,
                  pool_features: np.ndarray, seed: int, per_domain: int = 1000) -> np.ndarray:
    """DEV's importance weights of the source val rows, w(x) = p_target(x) / p_source(x) in a
    representation: a logistic domain classifier (`domain.logistic_fit`, standardised
    features) separates up to `per_domain` source-train rows from as many pool rows (drawn
    from `seed`); w = (n_s / n_t) P(pool | x) / P(source | x)."""
    rng = np.random.default_rng(seed)
    S = source_features[rng.permutation(len(source_features))[:per_domain]]
    T = pool_features[rng.permutation(len(pool_features))[:per_domain]]
    X = np.concatenate([S, T]).astype(np.float64)
    mean, std = X.mean(0), X.std(0)
    std[std == 0] = 1.0
    w, b = logistic_fit((X - mean) / std, np.r_[np.zeros(len(S)), np.ones(len(T))])
    # P(pool | x) / P(source | x) = e^z; z clipped where the domains separate completely
    # (exp overflows beyond ~709), which leaves such a row's weight huge but finite.
    z = np.clip(((val_features.astype(np.float64) - mean) / std) @ w + b, -50, 50)
    return len(S) / len(T) * np.exp(z)


def tsne_2d(source: np.ndarray, target: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A joint 2-D t-SNE of `n` source and `n` target rows: (points [2m, 2], domain [2m] 0/1).

    PCA to 50 dimensions first (the usual t-SNE preprocessing, and much faster).
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(seed)
    S, T = _sample(source, n, rng), _sample(target, n, rng)
    X = np.concatenate([S, T]).astype(np.float64)
    X = (X - X.mean(0)) / (X.std(0) + 1e-8)
    Z = PCA(n_components=min(50, X.shape[1], len(X) - 1), random_state=seed).fit_transform(X)
    # perplexity must stay below the number of points (tiny test runs have few)
    perplexity = min(30.0, (len(X) - 1) / 3)
    pts = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(Z)
    return pts.astype(np.float32), np.r_[np.zeros(len(S)), np.ones(len(T))].astype(np.int8)
