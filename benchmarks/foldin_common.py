"""What the two fold-in benchmarks share: the "PseudoRec style" baseline
request, percentiles, memory readings and the table writer.

The baseline is the approach the site replaces: per request, a fresh NGCF on
the training graph plus one node for the visitor, from a new random
initialisation, trained for a few epochs on that visitor's samples only
(BPR, one sampled negative per positive), then every movie scored.
"""

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))

from predictors import foldin  # noqa: E402
from predictors.ngcf import NGCF, interaction_graph  # noqa: E402
from predictors.zoo import hyperparameters  # noqa: E402

RESULTS_DIR = REPO_DIR / "benchmarks" / "results"
DEFAULT_DATA = os.environ.get("MOVIELENS_100K_DIR", str(REPO_DIR.parent / "shared" / "data" / "ml-100k"))
BASELINE_EPOCHS = 10


def pseudorec_request(train_users, train_items, n_users, n_items, history, k=10, epochs=BASELINE_EPOCHS, seed=0):
    """Top-k unseen item indices for a visitor, the "PseudoRec style" way:
    graph rebuilt with the visitor as user ``n_users``, new NGCF, ``epochs``
    BPR steps on the visitor's (positive, sampled negative) pairs."""
    params = hyperparameters("ngcf")
    history = torch.as_tensor(history, dtype=torch.int64)
    visitor = torch.full((len(history),), n_users, dtype=torch.int64)
    graph = interaction_graph(
        torch.cat([torch.as_tensor(train_users), visitor]),
        torch.cat([torch.as_tensor(train_items), history]),
        n_users + 1,
        n_items,
    )
    torch.manual_seed(seed)
    model = NGCF(graph, params["dim"], params["layers"], params["dropout"])
    optimizer = torch.optim.Adam(model.parameters(), lr=params["lr"])
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):  # the visitor's samples are one batch: an epoch is one step
        model.train()
        negatives = foldin.sample_unseen(n_items, history, (len(history), 1), generator)
        logits, l2 = model.training_logits(visitor, torch.cat([history[:, None], negatives], dim=1))
        loss = -F.logsigmoid(logits[:, :1] - logits[:, 1:]).mean() + params["l2"] * l2 / 2
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        user_repr = model.user_representation(torch.tensor([n_users]))
    return foldin.top_k_unseen(model, user_repr, history.tolist(), k)[0]


def percentiles(seconds):
    """-> (p50, p95) in milliseconds."""
    values = np.asarray(seconds) * 1000.0
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def rss_mb():
    """(current, peak) resident set size of this process in MB, from /proc."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024.0
    return fields["VmRSS"], fields["VmHWM"]


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_report(name, text):
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / name
    path.write_text(text + "\n")
    return path
