#!/usr/bin/python3
"""Independent validator for the spec corpus: loads each YAML file with a
YAML 1.2 core-schema resolver (PyYAML's default is YAML 1.1, where `yes` is
a boolean and 52:54:00:12:34:56 an integer) and validates it against
schemas/vmspec.schema.json with python3-jsonschema, after checking the
schema itself against the draft 2020-12 metaschema.  Prints one line per
file, "VALID path" or "INVALID path: reason"."""
import json
import re
import sys

import jsonschema
import yaml


class Yaml12Loader(yaml.SafeLoader):
    pass


# YAML 1.2 core schema, section 10.3.2.
Yaml12Loader.yaml_implicit_resolvers = {}
for tag, regexp, first in [
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", list("~nN") + [""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$",
     list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$",
     list("-+0123456789")),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     list("-+.0123456789")),
]:
    Yaml12Loader.add_implicit_resolver(tag, re.compile(regexp), first)


def construct_int(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 0) if text.startswith("0x") else int(text, 10)


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", construct_int)


def main():
    schema_path, paths = sys.argv[1], sys.argv[2:]
    with open(schema_path) as f:
        schema = json.load(f)
    # A keyword misspelt or of the wrong type would otherwise pass
    # everything silently; the server's own keywords (errorMessage,
    # doNotSuggest) are annotations to the metaschema.
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    bad = 0
    for path in paths:
        try:
            with open(path, "rb") as f:
                docs = list(yaml.load_all(f, Loader=Yaml12Loader))
            if len(docs) != 1 or docs[0] is None:
                raise ValueError("expected exactly one document")
            errors = sorted(validator.iter_errors(docs[0]), key=str)
            if errors:
                raise ValueError(errors[0].message)
            print(f"VALID {path}")
        except Exception as e:  # any load or validation failure
            bad += 1
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            print(f"INVALID {path}: {first}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
