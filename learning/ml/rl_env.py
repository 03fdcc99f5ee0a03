"""A daily trading environment (gymnasium) over the feature rows of one symbol's history at a time.

Imports gymnasium at module level: import this module only where the reinforcement-learning agent is
trained (:mod:`learning.ml.models.rl` does so inside its methods), never from the web process.

Timing, per step (one trading day of one symbol; row ``i`` is that symbol's day ``t``):

1. the agent observes ``obs_t = [x_t, p_{t-1}]``: the feature row of day ``t`` (built from bars up to
   ``t``'s close) and the position it carried into day ``t`` (-1 short, 0 flat, +1 long);
2. it chooses the position ``p_t`` to hold from ``t``'s close to the next session's close;
3. only then is the next-period return ``r_{t+1} = C_{t+1} / C_t - 1`` revealed, and the reward is

   ``reward_t = reward_scale * (p_t * r_{t+1} - cost_bp / 10_000 * |p_t - p_{t-1}|)``

   i.e. the day's P&L as a fraction of the capital, net of a proportional cost charged on the traded
   amount only (entering or leaving costs ``cost_bp``, a long -> short reversal twice that; holding
   costs nothing). Nothing is charged at the end of an episode.

So the observation at ``t`` reads nothing after ``t``, and each reward uses exactly one return that lies
after the action it pays for. The period is one session, whatever the label horizon H: it is the P&L a
daily long/flat (or long/short) trader actually books.

Episodes: rows are grouped into *runs*: consecutive rows of the same segment (symbol) whose next-period
return is known. ``reset`` starts at a uniformly drawn actionable row (``np_random``, so it is seeded by
``reset(seed=...)``) with a flat position; the episode is truncated after ``episode_length`` steps or at
the end of the run (``terminated`` is never set: the data ending is a time limit, not a terminal state).
``reset(options={"start": row, "position": p})`` pins both, for tests and replays.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

#: Observations are clipped to +-OBS_CLIP (features are standardised: +-10 sd is far out).
OBS_CLIP = 10.0
FLAT, LONG, SHORT = 0, 1, 2
#: Position held for each action index.
POSITIONS: tuple[float, ...] = (0.0, 1.0, -1.0)


class TradingEnv(gym.Env):
    """One symbol at a time; see the module docstring for the timing of observation, action and reward.

    ``observations``: ``(n, F)`` feature rows (standardise them before: the policy sees them as given,
    clipped to +-``OBS_CLIP``, NaN read as 0). ``returns``: ``(n,)``, ``returns[i]`` the return from row
    ``i``'s close to the next session's close of the same symbol (NaN where unknown: such a row ends a run).
    ``segments``: ``(n,)`` labels (e.g. symbol codes); episodes never cross from one segment to another.
    Actions: 0 flat, 1 long, and 2 short when ``allow_short``.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        observations: np.ndarray,
        returns: np.ndarray,
        segments: np.ndarray | None = None,
        *,
        cost_bp: float = 10.0,
        allow_short: bool = False,
        episode_length: int | None = None,
        reward_scale: float = 1.0,
    ) -> None:
        super().__init__()
        features = np.nan_to_num(np.asarray(observations, dtype="float64"), nan=0.0, posinf=OBS_CLIP, neginf=-OBS_CLIP)
        returns = np.asarray(returns, dtype="float64")
        if features.ndim != 2 or returns.shape != (len(features),):
            raise ValueError("observations must be (n, F) and returns (n,)")
        segments = np.zeros(len(features), dtype="int64") if segments is None else np.asarray(segments)
        if segments.shape != returns.shape:
            raise ValueError("segments must have one label per row")
        if cost_bp < 0 or reward_scale <= 0 or (episode_length is not None and episode_length < 1):
            raise ValueError("need cost_bp >= 0, reward_scale > 0 and episode_length >= 1")
        self.features = np.clip(features, -OBS_CLIP, OBS_CLIP).astype("float32")
        self.returns = returns
        self.segments = segments
        self.cost = cost_bp / 10_000.0
        self.allow_short = allow_short
        self.episode_length = episode_length
        self.reward_scale = reward_scale
        actionable = np.isfinite(returns)
        if not actionable.any():
            raise ValueError("no row has a known next-period return")
        self.actionable_rows = np.flatnonzero(actionable)
        # run_end[i]: one past the last actionable row of the run that contains row i.
        n = len(returns)
        same_next = np.r_[segments[1:] == segments[:-1], False]
        run_end = np.empty(n, dtype="int64")
        end = n
        for i in range(n - 1, -1, -1):
            if not actionable[i]:
                end = i
            elif not same_next[i]:
                end = i + 1
            run_end[i] = end
        self.run_end = run_end
        self.action_space = spaces.Discrete(3 if allow_short else 2)
        self.observation_space = spaces.Box(-OBS_CLIP, OBS_CLIP, shape=(self.features.shape[1] + 1,), dtype=np.float32)
        self.row = int(self.actionable_rows[0])
        self.position = 0.0
        self.steps = 0

    def _observation(self, row: int) -> np.ndarray:
        return np.append(self.features[row], np.float32(self.position))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if "start" in options:
            start = int(options["start"])
            if not np.isfinite(self.returns[start]):
                raise ValueError(f"row {start} has no next-period return to trade on")
        else:
            start = int(self.actionable_rows[self.np_random.integers(len(self.actionable_rows))])
        position = float(options.get("position", 0.0))
        if position not in POSITIONS or (position < 0 and not self.allow_short):
            raise ValueError(f"position {position} is not allowed")
        self.row, self.position, self.steps = start, position, 0
        return self._observation(start), {"row": start}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}")
        row = self.row
        new_position = POSITIONS[int(action)]
        cost = self.cost * abs(new_position - self.position)
        period_return = float(self.returns[row])
        pnl = new_position * period_return - cost
        self.position = new_position
        self.steps += 1
        self.row = row + 1
        truncated = self.row >= self.run_end[row] or (self.episode_length is not None and self.steps >= self.episode_length)
        # The next observation is the next row of the same symbol; past the end of a symbol's rows there is
        # none, and the current row (with the new position) stands in for it.
        same_symbol = self.row < len(self.returns) and self.segments[self.row] == self.segments[row]
        observation = self._observation(self.row if same_symbol else row)
        info = {"row": row, "position": new_position, "return": period_return, "cost": cost, "pnl": pnl}
        return observation, float(pnl * self.reward_scale), False, bool(truncated), info
