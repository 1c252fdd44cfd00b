"""Model-agnostic decision rules over relevance matrices."""

from screenstate.classifier.two_stage import TEMPERATURE, predict, softmax_scores, two_stage_scores

__all__ = ["TEMPERATURE", "predict", "softmax_scores", "two_stage_scores"]
