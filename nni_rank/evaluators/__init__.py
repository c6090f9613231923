"""NNI evaluators: benchmark lookup and short real training (zero-cost scoring lives with the proxies)."""
from .benchmark import BenchmarkEvaluator, SampleEvaluator
from .training import TrainingEvaluator, evaluate_accuracy, train_and_test

__all__ = ['BenchmarkEvaluator', 'SampleEvaluator', 'TrainingEvaluator', 'evaluate_accuracy', 'train_and_test']
