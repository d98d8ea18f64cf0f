"""template.yaml as written (SAM) and as CloudFormation receives it (expanded by aws-sam-translator, offline)."""

from __future__ import annotations

import copy
from pathlib import Path

import boto3
import pytest
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.public.parser import Parser
from samtranslator.public.translator import Translator

from numberguard_ops.template import TEMPLATE, load

ROOT = TEMPLATE.parent
# Any commercial region: only the ARN partition (aws) depends on it. No call leaves this process.
REGION = "eu-west-1"


def packaged(doc: dict) -> dict:
    """What `sam package` hands CloudFormation: local CodeUri/ContentUri folders become S3 objects."""
    doc = copy.deepcopy(doc)
    for res in doc["Resources"].values():
        props = res.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://artifacts/{props[key].strip('/')}.zip"
    return doc


def expand(doc: dict) -> dict:
    """The SAM transform as CloudFormation runs it, with an empty managed-policy map instead of IAM."""
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=REGION))
    try:
        return translator.translate(packaged(doc), parameter_values={}, get_managed_policy_map=dict)
    except InvalidDocumentException as err:
        pytest.fail("SAM cannot expand template.yaml:\n" + "\n".join(c.message for c in err.causes))


@pytest.fixture(scope="session")
def sam() -> dict:
    """template.yaml as written (a copy: tests may not change the cached document)."""
    return copy.deepcopy(load())


@pytest.fixture(scope="session")
def cfn(sam) -> dict:
    """template.yaml after the SAM transform: the resources CloudFormation creates."""
    return expand(sam)


def of_type(doc: dict, kind: str) -> dict[str, dict]:
    return {name: res for name, res in doc["Resources"].items() if res["Type"] == kind}


def project_path(relative: str) -> Path:
    return ROOT / relative
