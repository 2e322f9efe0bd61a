"""Measuring synthetic images: feature spaces, scores with floors, memorization, the visual
Turing test."""
