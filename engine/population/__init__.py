"""Populations: many persons from a file, decided on a columnar backend; the impact of an
amendment over them; the same on Dask past one machine (extras ``decree[batch]`` and
``decree[dask]``)."""
