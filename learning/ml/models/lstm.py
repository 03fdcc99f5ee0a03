"""A small LSTM over each symbol's recent sequence of feature rows (PyTorch, CPU).

Input for the row of (day t, symbol s): the ``seq_len`` most recent feature rows of ``s`` up to and
including ``t`` (older rows from ``context`` when given; zero-padded at the very start of a history, zero
being the training mean after standardisation). So a prediction for day t reads nothing after t.

Training, in time order:
1. the training rows are split by date into an earlier *fit* part and a later *validation* part (the last
   ``val_fraction`` of the dates), with ``val_gap`` sessions between them left out so that no fit label
   reaches into the validation period (``val_gap >= H + embargo``);
2. standardisation (mean, std per feature) is fitted on the fit part only, and values are clipped to +-5 sd;
3. Adam on binary cross-entropy, mini-batches shuffled by a seeded generator; after each epoch the
   validation log loss is measured, training stops after ``patience`` epochs without improvement and the
   weights of the best epoch are kept.

Determinism: all randomness comes from ``seed`` (weights, dropout, shuffling) through a forked RNG, so
the same data, seed and thread count give identical predictions; global torch RNG state is untouched.
The model runs on one thread by default (``n_threads=1``): it is small, extra threads barely help, and a
fixed thread count keeps float sums, hence predictions, the same on machines with more cores.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from learning.ml.models.base import (
    FORMAT_VERSION,
    ModelError,
    as_labels,
    feature_names_of,
    library_versions,
    torch_artifact_read,
    torch_artifact_write,
)
from learning.ml.validation import holdout_split

CLIP_SD = 5.0


def build_sequences(values: np.ndarray, symbols: np.ndarray, seq_len: int) -> np.ndarray:
    """For rows sorted by (symbol, date), the window of the ``seq_len`` rows of the same symbol ending at each row.

    Returns ``(n_rows, seq_len, n_features)`` float32; windows that start before a symbol's first row are
    zero-padded at the front.
    """
    n_rows, n_features = values.shape
    out = np.zeros((n_rows, seq_len, n_features), dtype="float32")
    boundaries = np.flatnonzero(np.r_[True, symbols[1:] != symbols[:-1], True])
    for start, stop in itertools.pairwise(boundaries):
        block = values[start:stop].astype("float32")
        padded = np.vstack([np.zeros((seq_len - 1, n_features), dtype="float32"), block])
        windows = np.lib.stride_tricks.sliding_window_view(padded, seq_len, axis=0)  # (n, F, L)
        out[start:stop] = windows.transpose(0, 2, 1)
    return out


def _make_network(n_features: int, hidden_size: int, num_layers: int, dropout: float) -> Any:
    import torch
    from torch import nn

    class SequenceClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(
                n_features, hidden_size, num_layers=num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0
            )
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(hidden_size, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            output, _ = self.lstm(x)
            return self.head(self.dropout(output[:, -1, :])).squeeze(-1)

    return SequenceClassifier()


class _Threads:
    """Use ``n`` intra-op threads inside the block, then restore (thread count affects float sums)."""

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.before: int | None = None

    def __enter__(self) -> None:
        import torch

        if self.n is not None:
            self.before = torch.get_num_threads()
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        import torch

        if self.before is not None:
            torch.set_num_threads(self.before)


class LSTMModel:
    kind: ClassVar[str] = "lstm"

    def __init__(
        self,
        *,
        seq_len: int = 20,
        hidden_size: int = 32,
        num_layers: int = 1,
        dropout: float = 0.1,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 256,
        max_epochs: int = 30,
        patience: int = 4,
        val_fraction: float = 0.15,
        val_gap: int = 10,
        n_threads: int | None = 1,
        seed: int = 0,
    ) -> None:
        self._params: dict[str, Any] = {
            "seq_len": seq_len,
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "dropout": dropout,
            "learning_rate": learning_rate,
            "weight_decay": weight_decay,
            "batch_size": batch_size,
            "max_epochs": max_epochs,
            "patience": patience,
            "val_fraction": val_fraction,
            "val_gap": val_gap,
            "n_threads": n_threads,
            "seed": seed,
        }
        self.feature_names: list[str] | None = None
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self.history_: list[dict[str, float]] = []
        self.best_epoch_: int | None = None
        self._net: Any = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    # ---- inputs ----

    def _standardise(self, frame: pd.DataFrame) -> np.ndarray:
        assert self.mean_ is not None and self.std_ is not None
        values = (frame[self.feature_names].to_numpy(dtype="float64") - self.mean_) / self.std_
        return np.clip(np.nan_to_num(values, nan=0.0), -CLIP_SD, CLIP_SD)

    def _sequences_for(self, X: pd.DataFrame, context: pd.DataFrame | None) -> np.ndarray:
        """Sequences for the rows of ``X`` (in ``X``'s order), reading earlier rows from ``context``."""
        if not isinstance(X.index, pd.MultiIndex) or list(X.index.names) != ["date", "symbol"]:
            raise ModelError("the LSTM needs X indexed by (date, symbol)")
        frame = X[self.feature_names]
        if context is not None and len(context):
            first_date = X.index.get_level_values("date").min()
            earlier = context.loc[context.index.get_level_values("date") < first_date, self.feature_names]
            earlier = earlier.groupby(level="symbol", sort=False).tail(self._params["seq_len"] - 1)
            frame = pd.concat([earlier, frame])
        order = np.lexsort((frame.index.get_level_values("date").to_numpy(), frame.index.get_level_values("symbol").to_numpy()))
        ordered = frame.iloc[order]
        seqs = build_sequences(
            self._standardise(ordered), ordered.index.get_level_values("symbol").to_numpy(), self._params["seq_len"]
        )
        # Back to X's own row order: X's rows are the last len(X) rows of `frame` before sorting.
        position_in_sorted = np.empty(len(order), dtype="int64")
        position_in_sorted[order] = np.arange(len(order))
        return seqs[position_in_sorted[len(frame) - len(X) :]]

    # ---- training ----

    def fit(self, X: pd.DataFrame, y: pd.Series | np.ndarray) -> Self:
        import torch

        p = self._params
        labels = as_labels(y).astype("float32")
        self.feature_names = feature_names_of(X)
        dates = pd.DatetimeIndex(X.index.get_level_values("date"))
        fit_pos, val_pos = holdout_split(dates, fraction=p["val_fraction"], gap=p["val_gap"])
        fit_values = X.iloc[fit_pos][self.feature_names].to_numpy(dtype="float64")
        self.mean_ = fit_values.mean(axis=0)
        std = fit_values.std(axis=0)
        self.std_ = np.where(std > 0, std, 1.0)
        seqs = self._sequences_for(X, None)

        with _Threads(p["n_threads"]), torch.random.fork_rng(devices=[]):
            torch.manual_seed(p["seed"])
            generator = torch.Generator().manual_seed(p["seed"])
            net = _make_network(len(self.feature_names), p["hidden_size"], p["num_layers"], p["dropout"])
            optimiser = torch.optim.Adam(net.parameters(), lr=p["learning_rate"], weight_decay=p["weight_decay"])
            loss_fn = torch.nn.BCEWithLogitsLoss()
            x_fit, y_fit = torch.from_numpy(seqs[fit_pos]), torch.from_numpy(labels[fit_pos])
            x_val, y_val = torch.from_numpy(seqs[val_pos]), torch.from_numpy(labels[val_pos])
            best_loss, best_state, stale = float("inf"), None, 0
            self.history_ = []
            for epoch in range(p["max_epochs"]):
                net.train()
                permutation = torch.randperm(len(x_fit), generator=generator)
                total = 0.0
                for start in range(0, len(x_fit), p["batch_size"]):
                    batch = permutation[start : start + p["batch_size"]]
                    optimiser.zero_grad()
                    loss = loss_fn(net(x_fit[batch]), y_fit[batch])
                    loss.backward()
                    optimiser.step()
                    total += loss.item() * len(batch)
                net.eval()
                with torch.no_grad():
                    val_loss = float(loss_fn(net(x_val), y_val))
                self.history_.append({"epoch": epoch, "train_loss": total / len(x_fit), "val_loss": val_loss})
                if val_loss < best_loss - 1e-6:
                    best_loss, stale, self.best_epoch_ = val_loss, 0, epoch
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    stale += 1
                    if stale >= p["patience"]:
                        break
            assert best_state is not None
            net.load_state_dict(best_state)
            net.eval()
        self._net = net
        return self

    def predict_proba(self, X: pd.DataFrame, context: pd.DataFrame | None = None) -> np.ndarray:
        import torch

        if self._net is None:
            raise ModelError("fit the model before predicting")
        if len(X) == 0:
            return np.zeros(0)
        seqs = torch.from_numpy(self._sequences_for(X, context))
        out = []
        with _Threads(self._params["n_threads"]), torch.no_grad():
            for start in range(0, len(seqs), 4096):
                out.append(torch.sigmoid(self._net(seqs[start : start + 4096])).numpy())
        return np.concatenate(out).astype("float64")

    # ---- persistence ----

    def save(self, path: str | Path) -> None:
        import torch

        if self._net is None or self.mean_ is None or self.std_ is None:
            raise ModelError("fit the model before saving")
        payload = {
            "kind": self.kind,
            "format_version": FORMAT_VERSION,
            "params": self._params,
            "feature_names": self.feature_names,
            "library_versions": library_versions("torch"),
            "best_epoch": self.best_epoch_,
            "mean": torch.from_numpy(self.mean_),
            "std": torch.from_numpy(self.std_),
            "state_dict": self._net.state_dict(),
        }
        torch_artifact_write(path, payload)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        payload = torch_artifact_read(path, kind=cls.kind, what="a torch model artifact")
        model = cls(**payload["params"])
        model.feature_names = list(payload["feature_names"])
        model.best_epoch_ = payload["best_epoch"]
        model.mean_ = payload["mean"].numpy()
        model.std_ = payload["std"].numpy()
        p = model._params
        net = _make_network(len(model.feature_names), p["hidden_size"], p["num_layers"], p["dropout"])
        net.load_state_dict(payload["state_dict"])
        net.eval()
        model._net = net
        return model
