"""The recommenders this site knows, by name, with their display labels.

The one list behind the registry's choices, the training commands, the model
pages and navigation, and the paper reviews' model links. A plain module (no
Django, no torch), so the movie and paper_review apps and the benchmarks can
import it without loading the models; a new model is added here once.
"""

MODEL_LABELS = {"gmf": "GMF", "mlp": "MLP", "neumf": "NeuMF", "ngcf": "NGCF", "ease": "EASE"}

# MLP is NeuMF's pre-trained branch: registered and evaluated, not served.
SERVED_MODELS = {name: label for name, label in MODEL_LABELS.items() if name != "mlp"}

# The evaluation protocols (predictors/evaluation.py), here so that forms and
# commands can offer them without importing torch.
PROTOCOLS = ("full", "ncf", "d2l")
