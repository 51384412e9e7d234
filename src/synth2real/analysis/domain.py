"""How far apart the two domains are in a representation: proxy A-distance and a 2-D map.

Proxy A-distance (Ben-David et al., 2007; as used by Ganin et al.): train a
linear classifier to tell source features from target features; with its
held-out error e, PAD = 2 (1 - 2 e). 0 = indistinguishable domains, 2 =
perfectly separable. Target = the unlabeled real pool, so no test label is
ever read.
"""

from __future__ import annotations

import numpy as np


def _sample(X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return X[rng.choice(len(X), size=min(n, len(X)), replace=False)]


def proxy_a_distance(source: np.ndarray, target: np.ndarray, n: int = 1000, seed: int = 0) -> float:
    """PAD from a logistic-regression domain classifier, half of each domain held out."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

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
    scaler = StandardScaler().fit(X[fit])
    clf = LogisticRegression(C=1.0, max_iter=500).fit(scaler.transform(X[fit]), y[fit])
    err = float(np.mean(clf.predict(scaler.transform(X[held])) != y[held]))
    return 2.0 * (1.0 - 2.0 * min(err, 0.5))


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
