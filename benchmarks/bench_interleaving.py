"""Team-draft interleaving against an A/B split on simulated visitors: impressions for 80% power at the 95% level.

Visitors: the users of ml-100k and of ml-latest-small with held-out ratings
on the random 75/25 split per user of the "full" protocol (seed 0): the
models are fitted on the 75%, the remaining 25% are the movies the visitor
would click. Click model (--click-model): the movie at rank r (1..10) is
noticed with probability 1 / log2(r + 1) (rank 1: 1, rank 2: .63, rank 10:
.29); "cascade" (default): the visitor reads top-down and clicks the first
noticed movie that is in their remaining ratings, then leaves (a card click
opens the movie's page); "examination": every noticed movie in their
remaining ratings is clicked. With --attention q a visitor looks at the row
at all on an impression with chance q (the same coin for both methods).
With --attention-spread activity that chance differs between visitors, as
engagement does between real ones: each simulated visitor draws their own
q_v from a log-normal of mean q (clipped at 1) whose log-scale spread is the
dataset's own, the standard deviation of log(training ratings per user)
(ml-100k .88, ml-latest-small 1.06); drawn per visitor from the seed, apart
from their taste. With "own-activity" a visitor's chance is instead
proportional to their own training ratings, scaled to mean q over the
held-out users (clipped at 1): heavy raters are heavy clickers, no draw.
"none" (default): every visitor looks with chance q. The report gives the
mean chance per impression beside the mean per user: they differ with
"own-activity" and --visits active, where the heavy raters also come more.

Pairs (A is the one with the higher offline NDCG@10 on that split):
- EASE (train_model's lambda) vs popularity;
- the best vs the worst served model (GMF, NeuMF, NGCF, EASE at
  train_model's defaults, ranked by that NDCG@10; --served narrows them);
- two versions of one model: EASE at its lambda vs EASE at lambda / 16.

Traffic: each simulated visitor is a held-out user drawn with replacement
(uniformly, or by activity with --visits active) who comes for
--impressions-per-visitor impressions of the row. Both methods get the
same visitors, in the same order, with the same click coins. Interleaving
shows every impression the team-draft merge of A and B
(experiments.interleaving.team_draft, its coin flips drawn per impression);
the A/B split sends each visitor to one side by a fair coin and shows them
that side's top 10 on every impression.

The statistic is the dashboard's (experiments.stats, 95% percentile
bootstrap over visitors, 1,000 resamples): the interleaving preference
(wins A - wins B) / (wins A + wins B), and for A/B the same scale made of the
two sides' click-through rates, whose interval excludes zero exactly when
the bootstrap interval of the CTR difference does. The textbook tests are
computed beside it: the sign test for interleaving, Welch's z on the
per-visitor CTR difference for A/B (with one impression per visitor that
is the unpooled two-proportion z test).

Impressions needed: fixed-horizon power, not a stopping rule. A seed "picks
A" at horizon n when the test on its first n impressions (one look, no
peeking) excludes zero on A's side. For each method the smallest n at which
16 of 20 seeds pick A (80% power) and at which 19 of 20 do is found by
doubling from 10 visitors (the dashboard's fewest for an interval, per
side under A/B) and then bisecting to 2%; a seed's stream is
the same at every horizon, so the share that picks A rises with n with
little noise. A method that does not get there by --max-impressions is
reported as "> cap".

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_interleaving.py --seeds 20 --cache /tmp/il-cache

The headline of docs/experiments.md (visitors who differ in engagement,
10% attention on average, 10 impressions each) adds
--attention 0.1 --attention-spread activity --impressions-per-visitor 10.
"""

import argparse
import hashlib
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import NormalDist

import numpy as np
from tqdm import tqdm

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))

from experiments.interleaving import team_draft  # noqa: E402
from experiments.stats import (  # noqa: E402
    MIN_VISITORS,
    Z_95,
    bootstrap_preference,
    bootstrap_rate_preference,
    excludes_zero,
    sign_test_interval,
)
from predictors.baselines import fit_popularity  # noqa: E402
from predictors.data import from_movielens_files  # noqa: E402
from predictors.defaults import DatasetStats  # noqa: E402
from predictors.evaluation import full_ranking, interaction_matrix, model_scorer, top_k  # noqa: E402
from predictors.names import MODEL_LABELS, SERVED_MODELS  # noqa: E402
from predictors.training import protocol_split, train_and_evaluate  # noqa: E402
from predictors.zoo import hyperparameters  # noqa: E402

log = logging.getLogger("bench_interleaving")

K = 10
EXAMINATION = 1.0 / np.log2(np.arange(2, K + 2))
DRAFT_COINS = (K + 1) // 2  # team draft flips a coin whenever both teams are the same size
POWER_SEEDS, PICK_SEEDS = 0.8, 0.95  # 16 and 19 of 20 seeds
GOAL_RATIO = 10.0
FIRST_HORIZON, PRECISION = 10, 0.02  # visitors
CHUNK = 40_000  # impressions simulated at a time
POWER_Z2 = (Z_95 + 0.8416212335729143) ** 2  # two-sided 95% test with 80% power: (z_.975 + z_.8)^2
VISITS_SWEPT = (1, 5, 10, 20, 10**9)  # impressions per visitor in the normal-theory sweep; 10**9: the limit
LABELS = {**MODEL_LABELS, "popularity": "popularity", "ease-weak": "EASE lambda/16"}


# --- models -----------------------------------------------------------------


def rankings(scorer, seen, users):
    """(len(users), K) item indices, best first, the user's training items left out."""
    out = []
    for start in range(0, len(users), 256):
        batch = users[start : start + 256]
        scores = np.array(scorer(batch), dtype=np.float64)
        scores[seen[batch]] = -np.inf
        out.append(top_k(scores, K))
    return np.concatenate(out)


def model_specs(stats, served):
    """{name: (model, hyperparameters)} of the models the pairs need."""
    ease = hyperparameters("ease", stats=stats)
    specs = {"ease": ("ease", ease), "ease-weak": ("ease", {**ease, "l2": ease["l2"] / 16})}
    for name in served:
        specs.setdefault(name, (name, hyperparameters(name, stats=stats)))
    return specs


def fit_rankings(dataset, served, cache):
    """(relevant (U, n_items) bool, {name: ((U, K) top 10, NDCG@10)}) for the U users with held-out ratings.

    ``cache`` (a directory or None) keeps each model's top 10 and NDCG by
    dataset, model and hyperparameters, so a rerun of the simulation does not
    retrain."""
    data = from_movielens_files(dataset)
    train, test = protocol_split(data, "full", 0)
    seen, relevant_all = interaction_matrix(train), interaction_matrix(test)
    users = np.flatnonzero(relevant_all.any(axis=1))
    popularity = fit_popularity(train)
    models = {"popularity": (rankings(popularity, seen, users), full_ranking(popularity, train, test)["ndcg@10"])}
    for name, (model_name, params) in model_specs(DatasetStats.from_interactions(data), served).items():
        key = hashlib.sha256(json.dumps([dataset, model_name, params], sort_keys=True).encode()).hexdigest()[:16]
        path = cache / f"{dataset}-{name}-{key}.npz" if cache else None
        if path and path.exists():
            stored = np.load(path)
            models[name] = (stored["ranking"], float(stored["ndcg"]))
            continue
        started = time.perf_counter()
        result = train_and_evaluate(data, model_name, params, "full", 0, False)
        assert np.array_equal(result.split[1].items, test.items)
        scorer = model_scorer(result.model)
        models[name] = (rankings(scorer, seen, users), full_ranking(scorer, train, test)["ndcg@10"])
        log.info("%s %s fitted in %.0f s, NDCG@10 %.4f", dataset, name, time.perf_counter() - started, models[name][1])
        if path:
            cache.mkdir(parents=True, exist_ok=True)
            np.savez(path, ranking=models[name][0], ndcg=models[name][1])
    return relevant_all[users], models, np.bincount(train.users, minlength=train.n_users)[users]


def pairs_of(models, served):
    """[(label, A, B)], A the higher NDCG@10."""
    wanted = [("EASE vs popularity", "ease", "popularity")]
    ranked = sorted((name for name in served if name in models), key=lambda name: models[name][1])
    if len(ranked) >= 2:
        best, worst = ranked[-1], ranked[0]
        wanted.append((f"best vs worst served: {LABELS[best]} vs {LABELS[worst]}", best, worst))
    wanted.append(("EASE lambda vs lambda/16", "ease", "ease-weak"))
    return [(label, *sorted((x, y), key=lambda name: -models[name][1])) for label, x, y in wanted]


# --- simulation -------------------------------------------------------------


class ScriptedCoins:
    """A stand-in for team_draft's random.Random: the coins are the bits of ``code``."""

    def __init__(self, code):
        self.code, self.flips = code, 0

    def random(self):
        bit = (self.code >> self.flips) & 1
        self.flips += 1
        if self.flips > DRAFT_COINS:
            raise AssertionError("team_draft flipped more coins than it has ties")
        return 0.25 if bit else 0.75  # below .5: A picks first


def all_drafts(rank_a, rank_b):
    """Every list team_draft can show each user: (U, 2**DRAFT_COINS, K) movies and whether A drafted each."""
    n_users, codes = len(rank_a), 2**DRAFT_COINS
    shown = np.zeros((n_users, codes, K), dtype=np.int64)
    by_a = np.zeros((n_users, codes, K), dtype=bool)
    for user in range(n_users):
        for code in range(codes):
            movies, credits = team_draft(rank_a[user].tolist(), rank_b[user].tolist(), K, ScriptedCoins(code))
            shown[user, code], by_a[user, code] = movies, [credit == "a" for credit in credits]
    return shown, by_a


def first_only(clicked):
    """Cascade: the visitor leaves for the first relevant movie they notice."""
    return clicked & (np.cumsum(clicked, axis=-1) == 1)


CLICK_MODELS = {"cascade": first_only, "examination": lambda clicked: clicked}


@dataclass
class Pair:
    """What one (dataset, pair) simulation needs, shared by its seeds."""

    rank_a: np.ndarray
    rank_b: np.ndarray
    relevant: np.ndarray
    drafts: tuple
    per_visitor: int
    click_model: str
    visit_weights: np.ndarray | None = None
    attention: float = 1.0
    attention_sigma: float = 0.0  # log-scale spread of the visitors' attention; 0: everyone alike
    attention_by_user: np.ndarray | None = None  # each user's own chance of looking, instead of both above


def activity_sigma(ratings_per_user):
    """The spread of engagement between visitors, read off the data: the standard deviation of the
    log of each user's number of ratings."""
    return float(np.log(np.asarray(ratings_per_user, dtype=np.float64)).std())


def visitor_attention(normal_draws, mean, sigma):
    """Each visitor's chance of looking at the row: log-normal of mean ``mean`` with log-scale spread
    ``sigma``, clipped at 1 (``sigma`` 0: ``mean`` for everyone)."""
    return np.minimum(1.0, mean * np.exp(sigma * np.asarray(normal_draws) - sigma**2 / 2))


def attention_from_activity(ratings_per_user, mean):
    """Each user's chance of looking, proportional to their ratings and clipped at 1, scaled (by
    bisection) so that its mean over the users is ``mean``."""
    ratings = np.asarray(ratings_per_user, dtype=np.float64)
    low, high = 0.0, 1.0 / ratings.min()  # at ``high`` every user looks on every impression
    for _ in range(60):
        scale = (low + high) / 2
        low, high = (scale, high) if np.minimum(1.0, scale * ratings).mean() < mean else (low, scale)
    return np.minimum(1.0, (low + high) / 2 * ratings)


def attention_moments(mean, sigma):
    """(E[q], E[q^2]) of ``visitor_attention`` over visitors, exactly: for X log-normal(mu, sigma),
    E[min(X, 1)^k] = exp(k mu + k^2 sigma^2 / 2) Phi((-mu - k sigma^2) / sigma) + P(X >= 1)."""
    if sigma == 0:
        q = min(1.0, mean)
        return q, q * q
    mu, phi = math.log(mean) - sigma**2 / 2, NormalDist().cdf
    above = 1 - phi(-mu / sigma)
    return tuple(math.exp(k * mu + k * k * sigma**2 / 2) * phi((-mu - k * sigma**2) / sigma) + above for k in (1, 2))


@dataclass
class Stream:
    """One seed's impressions, simulated a chunk at a time as far as a horizon needs.

    winner: +1 A, -1 B, 0 tie of each interleaved impression; ab_click: did
    the A/B impression get a click; ab_b: is each visitor on side B."""

    pair: Pair
    seed: int
    winner: list = field(default_factory=list)
    ab_click: list = field(default_factory=list)
    ab_b: list = field(default_factory=list)
    length: int = 0

    def extend(self, n):
        pair, m = self.pair, self.pair.per_visitor
        chunk = CHUNK // m * m
        while self.length < n:
            rng = np.random.default_rng([self.seed, self.length // chunk])
            users = rng.choice(len(pair.rank_a), size=chunk // m, p=pair.visit_weights)
            on_b = rng.random(chunk // m) < 0.5
            codes = rng.integers(2**DRAFT_COINS, size=chunk)
            noticed = rng.random((chunk, K)) < EXAMINATION  # the same coins for both methods
            user = np.repeat(users, m)
            looks = rng.random(chunk)  # drawn after the rest, and the spread after it: the old streams stay
            attention = pair.attention
            if pair.attention_by_user is not None:
                attention = pair.attention_by_user[user]
            elif pair.attention_sigma:
                spread = visitor_attention(rng.standard_normal(chunk // m), pair.attention, pair.attention_sigma)
                attention = np.repeat(spread, m)
            noticed &= (looks < attention)[:, None]
            clicks = CLICK_MODELS[pair.click_model]

            shown, by_a = pair.drafts[0][user, codes], pair.drafts[1][user, codes]
            clicked = clicks(noticed & pair.relevant[user[:, None], shown])
            a = (clicked & by_a).sum(axis=1)
            b = clicked.sum(axis=1) - a
            self.winner.append(np.sign(a - b).astype(np.int8))

            lists = np.where(np.repeat(on_b, m)[:, None], pair.rank_b[user], pair.rank_a[user])
            self.ab_click.append(clicks(noticed & pair.relevant[user[:, None], lists]).any(axis=1))
            self.ab_b.append(on_b)
            self.length += chunk
        self.winner, self.ab_click, self.ab_b = (
            [np.concatenate(parts)] for parts in (self.winner, self.ab_click, self.ab_b)
        )

    def interleaving(self, n):
        """Per visitor of the first n impressions: (wins A, wins B)."""
        self.extend(n)
        m = self.pair.per_visitor
        won = self.winner[0][:n].reshape(-1, m)
        return (won == 1).sum(axis=1), (won == -1).sum(axis=1)

    def ab(self, n):
        """Per visitor of the first n impressions: (impressions with a click, on side B)."""
        self.extend(n)
        m = self.pair.per_visitor
        return self.ab_click[0][:n].reshape(-1, m).sum(axis=1), self.ab_b[0][: n // m]


def grouped(values, m):
    """(values 0..m, how many visitors have each): the bootstrap resamples groups of alike visitors."""
    return np.arange(m + 1), np.bincount(values, minlength=m + 1)


def interleaving_pick(stream, n, rng, test):
    """+1 when the test on the first n impressions excludes zero on A's side, -1 on B's, else 0."""
    wins_a, wins_b = stream.interleaving(n)
    if len(wins_a) < MIN_VISITORS:  # the dashboard shows no interval yet
        return 0
    if test == "bootstrap":
        m = stream.pair.per_visitor
        profile = np.bincount(wins_a * (m + 1) + wins_b, minlength=(m + 1) ** 2)
        values = np.arange((m + 1) ** 2)
        point, interval = bootstrap_preference(values // (m + 1), values % (m + 1), rng, alike=profile)
    else:
        point, interval = None, sign_test_interval(int(wins_a.sum()), int(wins_b.sum()))
        point = None if interval is None else sum(interval)
    return int(np.sign(point)) if excludes_zero(interval) else 0


def welch_interval(rates_a, rates_b, z=Z_95):
    """95% interval of mean(rates_a) - mean(rates_b) by Welch's normal approximation, or None."""
    if len(rates_a) < 2 or len(rates_b) < 2:
        return None
    difference = rates_a.mean() - rates_b.mean()
    half = z * math.sqrt(rates_a.var(ddof=1) / len(rates_a) + rates_b.var(ddof=1) / len(rates_b))
    return difference - half, difference + half


def ab_pick(stream, n, rng, test):
    clicked, on_b = stream.ab(n)
    m = stream.pair.per_visitor
    if min(on_b.sum(), (~on_b).sum()) < MIN_VISITORS:
        return 0
    if test == "bootstrap":
        values, alike_a = grouped(clicked[~on_b], m)
        _, alike_b = grouped(clicked[on_b], m)
        shown = np.full(m + 1, m)
        point, interval = bootstrap_rate_preference(values, shown, values, shown, rng, alike_a=alike_a, alike_b=alike_b)
    else:
        interval = welch_interval(clicked[~on_b] / m, clicked[on_b] / m)
        point = None if interval is None else sum(interval)
    return int(np.sign(point)) if excludes_zero(interval) else 0


def clicked_at(hits, chance, click_model):
    """(..., K) chance that the movie at each rank is clicked, ``hits`` marking the relevant ones."""
    noticed = hits * chance
    if click_model == "examination":
        return noticed
    missed = np.cumprod(1 - noticed, axis=-1)  # cascade: nothing relevant noticed down to this rank
    return noticed * np.concatenate([np.ones_like(missed[..., :1]), missed[..., :-1]], axis=-1)


def interleaved_wins(hits, by_a, chance, click_model):
    """(chance A wins, chance B wins) of each interleaved list, exactly."""
    clicked = clicked_at(hits, chance, click_model)
    if click_model == "cascade":  # one click at most: it decides
        return (clicked * by_a).sum(axis=-1), (clicked * ~by_a).sum(axis=-1)
    lead = np.zeros((*hits.shape[:-1], 2 * K + 1))  # chance of each (A's clicks - B's clicks), from -K to K
    lead[..., K] = 1
    for rank in range(K):
        p = clicked[..., rank, None]
        shifted = np.where(by_a[..., rank, None], np.roll(lead, 1, axis=-1), np.roll(lead, -1, axis=-1))
        lead = (1 - p) * lead + p * shifted
    return lead[..., K + 1 :].sum(axis=-1), lead[..., :K].sum(axis=-1)


def expected_impressions(pair):
    """Normal-theory impressions for 80% power at the 95% level, from every user's exact chances:
    ({"interleaving": n, "ab": n}, the long-run rates)."""
    chance = EXAMINATION  # a visitor who looks at the row reads it by the click model
    shown, by_a = pair.drafts
    users = np.arange(len(pair.rank_a))
    if pair.attention_by_user is not None:  # per user: E[q] and E[q^2] are q_u and q_u^2
        looks, looks_squared = pair.attention_by_user, pair.attention_by_user**2
    else:
        looks, looks_squared = (np.full(len(users), q) for q in attention_moments(pair.attention, pair.attention_sigma))
    win_a, win_b = interleaved_wins(pair.relevant[users[:, None, None], shown], by_a, chance, pair.click_model)
    win_a, win_b = win_a.mean(axis=1), win_b.mean(axis=1)  # each list as likely as its coins; given a look
    ctr = [
        1 - np.prod(1 - np.take_along_axis(pair.relevant, ranking, axis=1) * chance, axis=1)
        for ranking in (pair.rank_a, pair.rank_b)
    ]
    weights = np.full(len(users), 1 / len(users)) if pair.visit_weights is None else pair.visit_weights
    m = pair.per_visitor

    def mean_var(given_look, square_given_look):
        """Mean and variance of a visitor's m-impression average of an outcome whose mean and mean
        square on an impression the visitor looks at are these (0 when they do not look). A visitor of
        taste u and attention q averages q x_u over their impressions; q is drawn apart from u or, with
        attention by user, is u's own."""
        mean = weights @ (looks * given_look)
        between = weights @ (looks_squared * given_look**2) - mean**2
        within = weights @ (looks * square_given_look) - weights @ (looks_squared * given_look**2)
        return mean, between + within / m

    lead = win_a - win_b
    il_mean, il_var = mean_var(lead, win_a + win_b)
    (ctr_a, var_a), (ctr_b, var_b) = (mean_var(c, c) for c in ctr)
    needed = {
        "interleaving": m * POWER_Z2 * il_var / il_mean**2,
        "ab": m * POWER_Z2 * 2 * (var_a + var_b) / (ctr_a - ctr_b) ** 2,  # half the visitors on each side
    }
    rates = {
        "wins_a": weights @ (looks * win_a),
        "wins_b": weights @ (looks * win_b),
        "ctr_a": ctr_a,
        "ctr_b": ctr_b,
        "visitor_var_interleaving": il_var,  # of a visitor's average over their m impressions
        "visitor_var_ctr_a": var_a,
        "visitor_var_ctr_b": var_b,
        "attention_per_impression": weights @ looks,  # the mean chance of looking over the impressions shown
        "attention_per_user": looks.mean(),  # over the held-out users, each counted once
    }
    return needed, {name: float(value) for name, value in rates.items()}


def ratio_by_visits(pair):
    """{impressions per visitor: A/B's normal-theory impressions over interleaving's} for VISITS_SWEPT.

    As a visitor's impressions grow, both sample sizes are ruled by the variance between visitors
    alone, so the last entry is the most the ratio can reach under this click model."""
    ratios = {}
    for m in VISITS_SWEPT:
        needed, _ = expected_impressions(replace(pair, per_visitor=m))
        ratios[m] = float(needed["ab"] / needed["interleaving"])
    return ratios


METHODS = {"interleaving": interleaving_pick, "ab": ab_pick}


def picks(streams, method, test, n):
    """(seeds picking A, seeds picking B) at horizon n."""
    signs = [METHODS[method](stream, n, np.random.default_rng([stream.seed, n, 1]), test) for stream in streams]
    return signs.count(1), signs.count(-1)


def horizon(enough, cap, step):
    """The smallest multiple of ``step`` up to ``cap`` for which ``enough(n)`` holds, by doubling from
    FIRST_HORIZON steps and bisecting to PRECISION; None if even ``cap`` is not enough."""

    def round_up(n):
        return max(step, -(-int(n) // step) * step)

    low, high = 0, round_up(FIRST_HORIZON * step)
    while not enough(high):
        if high >= cap:
            return None
        low, high = high, min(round_up(high * 2), round_up(cap))
    while high - low > max(step, PRECISION * high):
        middle = round_up((low + high) / 2)
        if middle >= high:
            break
        if enough(middle):
            high = middle
        else:
            low = middle
    return high


def measure(streams, method, test, cap):
    """{share: (impressions, seeds picking A, seeds picking B) there} for 80% and 95% of the seeds, and
    "most for B": the most seeds that picked B at any horizon tried."""
    seen = {}

    def at(n):
        if n not in seen:
            seen[n] = picks(streams, method, test, n)
        return seen[n]

    step = streams[0].pair.per_visitor
    out = {}
    for share in (POWER_SEEDS, PICK_SEEDS):
        needed = math.ceil(share * len(streams) - 1e-9)
        n = horizon(lambda n, needed=needed: at(n)[0] >= needed, cap, step)
        out[share] = (n, *at(n)) if n else (None, *at(cap // step * step))
    out["most for B"] = max(for_b for _, for_b in seen.values())
    return out


# --- report -----------------------------------------------------------------


def run_dataset(dataset, args):
    relevant, models, activity = fit_rankings(dataset, args.served, args.cache)
    weights = activity / activity.sum() if args.visits == "active" else None
    sigma = activity_sigma(activity) if args.attention_spread == "activity" else 0.0
    own = attention_from_activity(activity, args.attention) if args.attention_spread == "own-activity" else None
    rows = []
    for label, a, b in pairs_of(models, args.served):
        started = time.perf_counter()
        pair = Pair(
            models[a][0],
            models[b][0],
            relevant,
            all_drafts(models[a][0], models[b][0]),
            args.impressions_per_visitor,
            args.click_model,
            weights,
            args.attention,
            sigma,
            own,
        )
        streams = [Stream(pair, seed) for seed in range(args.seeds)]
        expected, rates = expected_impressions(pair)
        row = {
            "dataset": dataset,
            "pair": label,
            "a": a,
            "b": b,
            "ndcg_a": models[a][1],
            "ndcg_b": models[b][1],
            "users": len(relevant),
            "attention": args.attention,
            "attention_sigma": sigma,
            "impressions_per_visitor": args.impressions_per_visitor,
            "seeds": args.seeds,
            "rates": rates,
            "expected": {method: float(n) for method, n in expected.items()},
            "ratio_by_visits": ratio_by_visits(pair),
        }
        for method in tqdm(METHODS, desc=f"{dataset} {label}", leave=False):
            for test in ("bootstrap", "textbook"):
                row[f"{method}/{test}"] = {
                    str(share): found for share, found in measure(streams, method, test, args.max_impressions).items()
                }
        log.info("%s %s: %.0f s", dataset, label, time.perf_counter() - started)
        rows.append(row)
    return rows


def ratio(row, test, share, cap):
    """A/B's impressions over interleaving's at that share of seeds, as text (">=" when A/B hit the cap)."""
    il, ab = row[f"interleaving/{test}"][str(share)][0], row[f"ab/{test}"][str(share)][0]
    if il is None:
        return "-"
    return f"{ab / il:.1f}x" if ab else f">= {cap / il:.1f}x"


def cell(found, cap):
    n, for_a, for_b = found
    wrong = f", {for_b} for B" if for_b else ""
    return f"{n:,} ({for_a}{wrong})" if n else f"> {cap:,} ({for_a}{wrong})"


def table(rows, test, cap):
    """Per pair: the long-run rates, the simulated impressions for 80% power and for 19 of 20 seeds, and
    the normal-theory impressions for 80% power."""
    lines = [
        "| dataset | pair (A = offline winner) | NDCG@10 A / B | interleaved wins A / B | CTR A / B "
        "| 80% power: interleaving | A/B | ratio | 19/20 seeds: interleaving | A/B | ratio "
        "| normal theory, 80%: interleaving | A/B | ratio | goal |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        rates, expected = row["rates"], row["expected"]
        cells = [
            f"{row['ndcg_a']:.4f} / {row['ndcg_b']:.4f}",
            f"{rates['wins_a']:.3f} / {rates['wins_b']:.3f}",
            f"{rates['ctr_a']:.3f} / {rates['ctr_b']:.3f}",
        ]
        for share in (POWER_SEEDS, PICK_SEEDS):
            found_il, found_ab = row[f"interleaving/{test}"][str(share)], row[f"ab/{test}"][str(share)]
            cells += [cell(found_il, cap), cell(found_ab, cap), ratio(row, test, share, cap)]
        cells += [
            f"{expected['interleaving']:,.0f}",
            f"{expected['ab']:,.0f}",
            f"{expected['ab'] / expected['interleaving']:.1f}x",
            "met" if goal_met(row, test, cap) else "NOT met",
        ]
        lines.append(f"| {row['dataset']} | {row['pair']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def visits_table(rows):
    """The normal-theory ratio as a function of the impressions each visitor gets, the rest as run."""
    heads = ["∞" if m == VISITS_SWEPT[-1] else str(m) for m in VISITS_SWEPT]
    lines = [
        "| dataset | pair | " + " | ".join(f"{head} per visitor" for head in heads) + " |",
        "|---|---|" + "---|" * len(heads),
    ]
    for row in rows:
        ratios = " | ".join(f"{row['ratio_by_visits'][m]:.1f}x" for m in VISITS_SWEPT)
        lines.append(f"| {row['dataset']} | {row['pair']} | {ratios} |")
    return "\n".join(lines)


def attention_line(rows):
    """Each dataset's mean chance of looking at the row, per impression and per held-out user."""
    rates = {row["dataset"]: row["rates"] for row in rows}  # the same for every pair of a dataset
    return "Mean chance of looking at the row: " + "; ".join(
        f"{dataset} {found['attention_per_impression']:.3f} per impression, {found['attention_per_user']:.3f} per user"
        for dataset, found in rates.items()
    )


def goal_met(row, test="bootstrap", cap=None):
    """Interleaving picks A in 19 of 20 seeds somewhere below the cap, never B there, and A/B needs
    >= 10x the impressions for 80% power."""
    picked = row[f"interleaving/{test}"][str(PICK_SEEDS)]
    il, ab = row[f"interleaving/{test}"][str(POWER_SEEDS)][0], row[f"ab/{test}"][str(POWER_SEEDS)][0]
    if picked[0] is None or picked[2] or il is None:
        return False
    return (ab if ab is not None else cap or math.inf) >= GOAL_RATIO * il


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["ml-100k", "ml-latest-small"])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--max-impressions", type=int, default=4_000_000, help="Largest horizon tried, per method.")
    parser.add_argument("--click-model", choices=sorted(CLICK_MODELS), default="cascade")
    parser.add_argument("--impressions-per-visitor", type=int, default=1)
    parser.add_argument(
        "--attention",
        type=float,
        default=1.0,
        help="Chance that a visitor looks at the row at all on an impression (1: the click model alone); "
        "with own-activity, its mean over the held-out users.",
    )
    parser.add_argument(
        "--attention-spread",
        choices=["none", "activity", "own-activity"],
        default="none",
        help="Visitors alike, or each with their own chance of looking, log-normal with the spread of "
        "log(ratings per user) in the data and mean --attention, or in proportion to their own ratings.",
    )
    parser.add_argument(
        "--visits",
        choices=["uniform", "active"],
        default="uniform",
        help="Who comes: every held-out user alike, or in proportion to their training ratings.",
    )
    parser.add_argument(
        "--served",
        nargs="*",
        default=list(SERVED_MODELS),
        choices=list(SERVED_MODELS),
        help="The served models for the best-vs-worst pair (fewer than two: no such pair).",
    )
    parser.add_argument("--cache", type=Path, help="Keep the fitted models' top 10s here between runs.")
    parser.add_argument("--out", type=Path, help="Also write the tables here, and the numbers to a .json beside it.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    rows = []
    for dataset in args.datasets:
        rows += run_dataset(dataset, args)
        spread = f", spread {args.attention_spread}" if args.attention_spread != "none" else ""
        text = (
            f"Click model: {args.click_model}, attention {args.attention:g}{spread}, "
            f"{args.impressions_per_visitor} impression(s) per visitor, visits {args.visits}.\n"
            f"{attention_line(rows)}.\n\n"
        )
        text += "\n\n".join(
            f"{title}:\n\n{table(rows, test, args.max_impressions)}"
            for test, title in (
                ("bootstrap", "Dashboard statistic (bootstrap over visitors)"),
                ("textbook", "Textbook tests (sign test; Welch z on the CTR difference)"),
            )
        )
        text += (
            "\n\nNormal theory, A/B's impressions over interleaving's for 80% power, by impressions per "
            f"visitor (the same visitors and click model otherwise):\n\n{visits_table(rows)}"
        )
        if args.out:
            args.out.write_text(text + "\n")
            args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    print(text)
    met = all(goal_met(row, "bootstrap", args.max_impressions) for row in rows)
    print(
        "Cells: impressions at which that share of the seeds' 95% intervals exclude zero on A's side "
        "(seeds picking A, and B if any, there); normal theory: (z_.975 + z_.8)^2 variance / effect^2 "
        "from every user's exact click chances."
    )
    wrong = {method: [row[f"{method}/bootstrap"]["most for B"] for row in rows] for method in METHODS}
    print(f"Per pair, the most seeds whose interval excluded zero on B's side at any horizon tried: {wrong}.")
    print(
        f"Goal (interleaving picks A in >= 19/20 seeds, and A/B needs >= {GOAL_RATIO:.0f}x its impressions "
        f"for 80% power, every pair): {'met' if met else 'NOT met'}."
    )


if __name__ == "__main__":
    main()
