"""Cluster drivers: one per provider (``attached``, ``sim``, ``kind``, ``eks``) behind ``Driver``."""
