"""Durable, encrypted storage of documents and their projections."""
