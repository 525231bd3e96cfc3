"""Walking a model's layers, shared by sparsity and export."""


def sublayers(model):
    """`model` and every layer inside it, at any depth, in tracking order."""
    # Keras 3 has no public recursive listing of sublayers; `_flatten_layers` is what its own
    # `Model.layers` and weight tracking use.
    return list(model._flatten_layers(include_self=True, recursive=True))
