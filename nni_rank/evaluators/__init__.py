"""NNI evaluators: benchmark lookup, short real training, and zero-cost proxy scores."""
from .benchmark import BenchmarkEvaluator, SampleEvaluator
from .training import TrainingEvaluator, evaluate_accuracy, train_and_test
from .zero_cost import UNDEFINED_SCORE, ModelZeroCostEvaluator, ZeroCostEvaluator

__all__ = ['BenchmarkEvaluator', 'ModelZeroCostEvaluator', 'SampleEvaluator', 'TrainingEvaluator', 'UNDEFINED_SCORE',
           'ZeroCostEvaluator', 'evaluate_accuracy', 'train_and_test']
