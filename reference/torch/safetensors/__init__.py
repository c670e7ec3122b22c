"""A stand-in for the `safetensors` package (not in Debian 12, and PyPI is not
reachable from this project's machines), so that tests can run the README's
snippet as written: `from safetensors.torch import load_file`."""
