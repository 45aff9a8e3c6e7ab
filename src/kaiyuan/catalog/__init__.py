"""Choose a model: the sourced catalog, memory fit and speed, cost, and the recommender."""
