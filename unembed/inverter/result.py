"""What an inversion returns: the best text, the final top-K, and what every step did and cost."""

from __future__ import annotations

import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import atomic
from ..registry import require
from .config import InversionConfig


@dataclass
class StepRecord:
    step: int  # 0 is the bootstrap from the bank
    best_text: str
    best_score: float
    candidates: list[tuple[float, str]]  # the new texts of this step with their scores, best first
    proposed: int = 0  # texts the generator returned, before dropping seen ones
    rejected: list[str] = field(default_factory=list)  # would have entered the top-K but failed the fluency gate
    admitted: list[str] = field(default_factory=list)  # this step's texts that are in the kept top-K after it (step 0: all)
    llm_calls: int = 0
    scored: int = 0  # texts scored with the space (the cache encodes only those it has not seen)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    failed: bool = False  # the generator gave nothing usable after its retries
    error: str | None = None
    fallback: bool = False  # the fallback generator stepped in
    # rule name -> candidate edits the edit generator's rules refused this step (config.record_refusals; else empty)
    refusals: dict[str, int] = field(default_factory=dict)


@dataclass
class InversionResult:
    text: str  # the answer: the best text, or the bank's best where the loop's gains less than config.min_gain
    score: float
    top: list[tuple[float, str]]  # the kept candidates at the end, best first
    history: list[StepRecord]
    config: InversionConfig | None = None  # the settings it ran with
    cache: dict = field(default_factory=dict)  # embedding-cache hits/misses during this run

    @property
    def bootstrap_text(self) -> str:
        return self.history[0].best_text

    @property
    def bootstrap_score(self) -> float:
        return self.history[0].best_score

    @property
    def seconds(self) -> float:
        return sum(record.seconds for record in self.history)

    @property
    def llm_calls(self) -> int:
        return sum(record.llm_calls for record in self.history)

    @property
    def failed_steps(self) -> list[StepRecord]:
        """Steps where the generator (and the fallback, if any) gave no text: nothing new was scored."""
        return [record for record in self.history[1:] if record.failed]

    @property
    def fallback_steps(self) -> list[StepRecord]:
        """Steps whose texts came from the fallback because the generator gave none."""
        return [record for record in self.history[1:] if record.fallback and not record.failed]

    @property
    def troubled_steps(self) -> list[StepRecord]:
        """Steps where the generator reported an error, whatever saved them (fallback, another pooled generator)."""
        return [record for record in self.history[1:] if record.error]

    def trajectory(self) -> list[float]:
        """The best score after each step, bootstrap first."""
        return [record.best_score for record in self.history]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["seconds"] = self.seconds
        data["llm_calls"] = self.llm_calls
        return data

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
        if path is not None:
            atomic.write_text(path, text + "\n")
        return text

    @classmethod
    def from_dict(cls, data: dict) -> InversionResult:
        history = [StepRecord(**{**record, "candidates": [tuple(pair) for pair in record["candidates"]]}) for record in data["history"]]
        return cls(
            text=data["text"],
            score=data["score"],
            top=[tuple(pair) for pair in data["top"]],
            history=history,
            config=InversionConfig.from_dict(data["config"]) if data.get("config") else None,
            cache=data.get("cache", {}),
        )

    def plot(self, path: str | os.PathLike | None = None, *, ax=None):
        """The best score per step (and each step's new candidates); saved atomically to `path` if given."""
        matplotlib = require("matplotlib", extra="plot", needed_by="plotting")
        if ax is None and path is not None:
            matplotlib.use("Agg")
        plt = require("matplotlib.pyplot", extra="plot", needed_by="plotting")
        ticker = require("matplotlib.ticker", extra="plot", needed_by="plotting")
        figure = None
        if ax is None:
            figure, ax = plt.subplots(figsize=(6, 3.5))
        # Texts the fluency gate dropped can score above the best line; mark them so the plot reads right.
        kept: list[tuple[int, float]] = []
        dropped: list[tuple[int, float]] = []
        for record in self.history:
            gated = set(record.rejected)
            for score, text in record.candidates:
                (dropped if text in gated else kept).append((record.step, score))
        if kept:
            ax.scatter(*zip(*kept, strict=True), s=6, color="0.7", zorder=1, label="candidates")
        if dropped:
            ax.scatter(*zip(*dropped, strict=True), s=14, color="tab:red", marker="x", zorder=1, label="dropped: not fluent")
        ax.plot(range(len(self.history)), self.trajectory(), marker="o", zorder=2, label="best")
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.set_xlabel("step (0 = caption bank)")
        ax.set_ylabel("cosine with target")
        ax.set_title(self.text if len(self.text) < 70 else self.text[:67] + "...", fontsize=9)
        ax.legend(loc="lower right")
        if figure is not None and path is not None:
            figure.tight_layout()
            image = io.BytesIO()
            figure.savefig(image, format=Path(path).suffix.lstrip(".") or "png", dpi=120)
            plt.close(figure)
            atomic.write_bytes(path, image.getvalue())
        return ax
