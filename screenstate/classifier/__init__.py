"""Model-agnostic decision rules over relevance matrices."""

from screenstate.classifier.columns import Against, ExampleColumns, Relevance, Source
from screenstate.classifier.fewshot import FewShot
from screenstate.classifier.fusion import fuse, weighted_mean
from screenstate.classifier.rule import DecisionRule, choose_rule
from screenstate.classifier.two_stage import TEMPERATURE, TwoStage, predict, softmax_scores, two_stage_scores

__all__ = [
    "TEMPERATURE",
    "Against",
    "DecisionRule",
    "ExampleColumns",
    "FewShot",
    "Relevance",
    "Source",
    "TwoStage",
    "choose_rule",
    "fuse",
    "predict",
    "softmax_scores",
    "two_stage_scores",
    "weighted_mean",
]
