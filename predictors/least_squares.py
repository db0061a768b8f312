"""Weighted least squares over the whole catalog, solved by alternating
conjugate-gradient steps (Hu, Koren and Volinsky 2008; Takacs et al. 2011).

The objective is the catalog "mse" loss of predictors.training with its sum
left unnormalised: every (user, item) cell is a squared error (y - p_u . q_i)^2,
y = 1 for an interaction and 0 elsewhere, weighed by its confidence
1 + confidence * weight (1 for an unseen cell), plus reg (|p_u|^2 + |q_i|^2).
With the items fixed, each user's p_u solves

    (Q^T Q + Q_u^T (C_u - I) Q_u + reg I) p_u = Q_u^T C_u 1

and symmetrically for the items. Every product below is computed over the
interactions only (nnz x d) plus one d x d Gramian, so a sweep over all users
and items costs a few passes over the interactions, whatever the catalog's
size. A few conjugate-gradient steps from the previous solution per sweep are
enough (as in the implicit library), since the previous solution is close.
"""

import torch


def _solve_side(own, other, rows, cols, confidence, reg, steps):
    """In place: ``own`` (n, d) moves towards the least-squares solution with
    ``other`` (m, d) fixed; interactions are (rows into own, cols into other)
    with confidences (nnz,) >= 1."""
    gram = other.T @ other + reg * torch.eye(other.shape[1], dtype=other.dtype)  # (d, d)
    gathered = other[cols]  # (nnz, d)

    def apply(x):  # A x for every row at once: (n, d) -> (n, d)
        extra = (confidence - 1.0) * (gathered * x[rows]).sum(1)  # (nnz,)
        return x @ gram + torch.zeros_like(x).index_add_(0, rows, gathered * extra.unsqueeze(1))

    target = torch.zeros_like(own).index_add_(0, rows, gathered * confidence.unsqueeze(1))  # Q_u^T C_u 1
    residual = target - apply(own)
    direction = residual.clone()
    norm = (residual * residual).sum(1)  # (n,)
    for _ in range(steps):
        product = apply(direction)
        step = norm / (direction * product).sum(1).clamp(min=1e-20)
        own += step.unsqueeze(1) * direction
        residual -= step.unsqueeze(1) * product
        new_norm = (residual * residual).sum(1)
        direction = residual + (new_norm / norm.clamp(min=1e-20)).unsqueeze(1) * direction
        norm = new_norm


def sweep(users, items, user_factors, item_factors, confidence, reg, steps=3):
    """One alternating pass, users then items, in place. users/items (nnz,)
    int64 of the interactions, factors (n_users, d) and (n_items, d),
    confidence (nnz,) the weight of each interaction's cell (>= 1)."""
    with torch.no_grad():
        _solve_side(user_factors, item_factors, users, items, confidence, reg, steps)
        _solve_side(item_factors, user_factors, items, users, confidence, reg, steps)


def objective(users, items, user_factors, item_factors, confidence, reg):
    """The weighted squared error of every cell plus the penalty, per interaction."""
    with torch.no_grad():
        predicted = (user_factors[users] * item_factors[items]).sum(1)  # (nnz,)
        # sum over all cells of p.q squared, from the Gramians: tr(P^T P Q^T Q)
        everywhere = ((user_factors.T @ user_factors) * (item_factors.T @ item_factors)).sum()
        observed = (confidence * (1 - predicted) ** 2 - predicted**2).sum()
        penalty = reg * (user_factors.pow(2).sum() + item_factors.pow(2).sum())
        return float((everywhere + observed + penalty) / max(len(users), 1))
