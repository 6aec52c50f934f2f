"""Indexers: pull transfers from nodes and dumps into the store (as ``exposure.indexers``)."""
