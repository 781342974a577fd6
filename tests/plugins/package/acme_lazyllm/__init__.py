"""A third-party package that extends lazyllm through entry points (tests/plugins): an
engine, a supplier, a finetune method, a launcher and a CLI command, written against lazyllm's
public names only. The test copies it next to a ``*.dist-info`` folder that declares them."""
