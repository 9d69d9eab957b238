"""Recipes: the schema, composition with Hydra, and validation at the boundary."""
