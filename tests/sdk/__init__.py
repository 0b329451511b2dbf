"""Tests of the generated SDK facade ``threeport.sdk``."""
